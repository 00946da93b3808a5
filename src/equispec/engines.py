"""Where many independent computations run: in this process, on a pool of local processes, or on an existing
Dask distributed cluster (``--workers N`` / ``--scheduler ADDRESS``; ``docs/cluster.md``).

An engine takes a picklable function and a list of argument tuples and yields ``(index, result)`` as each call
completes, in any order; what to do with a result (store it, reorder it) is the caller's. Nothing heavy is
imported here: ``dask.distributed`` only when a :class:`DaskEngine` is opened, torch only inside a pool's
worker processes.

Dask rather than Ray: its wheels are pure Python on PyPI (``pip install 'equispec[cluster]'``), a cluster is
started with its own launchers (``dask scheduler`` / ``dask worker``, under SLURM with ``srun`` and a scheduler
file, or dask-jobqueue / dask-mpi), a future whose worker dies is computed again on another worker without
the client doing anything, and ``distributed.LocalCluster`` gives the tests a real multi-process cluster.
Ray is a large native wheel with a cluster manager of its own.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .errors import InputError

__all__ = ["CONNECT_TIMEOUT_S", "DaskEngine", "EngineChoice", "LocalPool", "check_scheduler", "open_engine",
           "scheduler_address"]

#: Seconds to wait for a Dask scheduler to answer before giving up with one line.
CONNECT_TIMEOUT_S = 5.0
#: Seconds an interrupted pool's processes get to leave before they are killed.
TERMINATE_GRACE_S = 5.0


def _leave(code: int) -> None:
    """End a pool process at once, after its exit handlers: those of multiprocessing unlink the named semaphores
    it made (tqdm's lock, in a spawned process), which the resource tracker would otherwise report as leaked."""
    import atexit

    try:
        atexit._run_exitfuncs()
    finally:
        os._exit(code)


def _worker_start(threads: int) -> None:
    """In each pool process, before any task: ``threads`` torch threads (the machine's cores shared between
    the workers); Ctrl-C left to the parent, which ends the pool (no traceback per worker); SIGTERM (the pool
    ending) an exit without a traceback; and an end of its own as soon as the parent is gone (a parent killed,
    or ended without its clean-up, would otherwise leave its workers waiting for tasks for ever: each holds both
    ends of the task queue)."""
    import multiprocessing
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: _leave(128 + signum))
    parent = multiprocessing.parent_process()
    if parent is not None:
        def orphaned() -> None:
            parent.join()
            _leave(1)

        threading.Thread(target=orphaned, name="equispec-parent-watch", daemon=True).start()
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = str(threads)
    import torch

    torch.set_num_threads(threads)


class LocalPool:
    """``workers`` processes on this machine (``concurrent.futures.ProcessPoolExecutor``, started with
    "spawn": a forked copy of a process that holds torch's thread pool can hang), each with
    ``cpu_count // workers`` torch threads (at least one)."""

    name = "local pool"

    def __init__(self, workers: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.workers = max(1, int(workers))
        self.threads = max(1, (os.cpu_count() or 1) // self.workers)
        self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_worker_start, initargs=(self.threads,))
        self._futures = []

    def map_unordered(self, function: Callable, arguments: Iterable[tuple]) -> Iterator[tuple[int, object]]:
        """``(k, function(*arguments[k]))`` for every k, each as soon as it is done."""
        from concurrent.futures import as_completed
        from concurrent.futures.process import BrokenProcessPool

        futures = {self._executor.submit(function, *args): k for k, args in enumerate(arguments)}
        self._futures.extend(futures)
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BrokenProcessPool:
            raise InputError("--workers", "a process of the local pool died (killed, out of memory, or a script "
                                          "that calls equispec outside `if __name__ == \"__main__\":`); what "
                                          "finished before is in the physics cache: run again to go on") from None

    def close(self) -> None:
        """Stop the pool. After an interruption waiting tasks are cancelled and running ones ended (their
        results are not wanted, and nobody should wait for them)."""
        executor, self._executor = self._executor, None
        if executor is None:  # closed already
            return
        if all(future.done() for future in self._futures):
            executor.shutdown(wait=True)
            return
        terminate = getattr(executor, "terminate_workers", None)  # Python 3.14
        if terminate is not None:
            terminate()
            return
        processes = list((getattr(executor, "_processes", None) or {}).values())  # shutdown forgets them
        manager = getattr(executor, "_executor_manager_thread", None)
        # waiting tasks cancelled by the executor itself (a future cancelled from outside breaks Python 3.11's
        # clean-up of a pool whose processes end: InvalidStateError in its thread, queues left behind)
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()  # SIGTERM: it leaves once the call it is in (a potential's forward pass) returns
        deadline = time.monotonic() + TERMINATE_GRACE_S
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in processes:
            if process.is_alive():
                process.kill()
        if manager is not None:
            manager.join(TERMINATE_GRACE_S)  # it sees the processes gone and closes the queues
        del executor, processes, manager
        import gc

        gc.collect()  # the queues sit in reference cycles: collected now, their semaphores are unlinked now

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def scheduler_address(scheduler: str) -> str:
    """``--scheduler`` as an address: a ``tcp://host:port`` (any Dask address) as it is, or the address in the
    JSON scheduler file that ``dask scheduler --scheduler-file FILE`` writes."""
    if "://" not in scheduler and Path(scheduler).is_file():
        try:
            return str(json.loads(Path(scheduler).read_text())["address"])
        except (OSError, ValueError, KeyError, TypeError):
            raise InputError(scheduler, "is not a Dask scheduler file (JSON with an \"address\")") from None
    return scheduler


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise InputError("--scheduler", "needs dask.distributed: pip install 'equispec[cluster]'") from None
    return distributed


def _unreachable(address: str, reason: str) -> InputError:
    reason = " ".join(str(reason).split())[:120]
    return InputError("--scheduler", f"no Dask scheduler answers at {address} within {CONNECT_TIMEOUT_S:g} s "
                                     f"({reason})")


def check_scheduler(scheduler: str) -> str:
    """The address of ``scheduler`` once a Dask scheduler has answered there (an identity request, within
    :data:`CONNECT_TIMEOUT_S`); raises a one-line ``InputError`` naming the address otherwise. Cheap: run it
    before any work, so that a wrong address fails at once."""
    import asyncio

    address = scheduler_address(scheduler)
    _import_distributed()
    from distributed.comm import connect

    async def identity():
        try:
            comm = await connect(address, timeout=CONNECT_TIMEOUT_S)
        except ValueError as exc:  # no port, an unknown protocol
            raise InputError("--scheduler", f"{address} is not a Dask address ({exc}); e.g. tcp://host:8786") from None
        try:
            await asyncio.wait_for(comm.write({"op": "identity", "reply": True}), CONNECT_TIMEOUT_S)
            return await asyncio.wait_for(comm.read(), CONNECT_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - a closed stream, a timeout, or bytes that are no Dask message
            return None
        finally:
            comm.abort()

    try:
        reply = asyncio.run(identity())
    except InputError:
        raise
    except (OSError, asyncio.TimeoutError) as exc:  # nothing there, or no route to it
        raise _unreachable(address, str(exc) or type(exc).__name__) from None
    except Exception:  # noqa: BLE001 - the handshake read bytes that are no Dask message (MemoryError, ...)
        raise InputError("--scheduler", f"what answers at {address} is not a Dask scheduler") from None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        raise InputError("--scheduler", f"what answers at {address} is not a Dask scheduler")
    return address


class DaskEngine:
    """A client of the Dask scheduler at ``address`` (``tcp://host:8786``, or a scheduler file): each call is
    one task, and a task whose worker dies is run again on another worker by the scheduler.

    Dask sends tasks and results between the client and its workers with pickle: connect only to a cluster you
    control (``docs/cluster.md``)."""

    name = "Dask cluster"

    def __init__(self, address: str):
        distributed = _import_distributed()
        address = check_scheduler(address)  # a one-line error, not a half-built client, when nothing answers
        try:
            self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except Exception as exc:  # noqa: BLE001 - what a scheduler that went away between the two raises
            raise _unreachable(address, str(exc) or type(exc).__name__) from None
        self.address = address
        self.workers = len(self.client.scheduler_info().get("workers", {}))

    def map_unordered(self, function: Callable, arguments: Iterable[tuple]) -> Iterator[tuple[int, object]]:
        """``(k, function(*arguments[k]))`` for every k, each as soon as it is done."""
        from distributed import KilledWorker, as_completed

        futures = [self.client.submit(function, *args, pure=False) for args in arguments]
        index = {future.key: k for k, future in enumerate(futures)}
        try:
            for future in as_completed(futures, loop=self.client.loop):
                yield index[future.key], future.result()
        except KilledWorker:
            raise InputError("--scheduler", f"a task at {self.address} took several workers down with it (each "
                                            "died running it: out of memory?); what finished before is in the "
                                            "physics cache") from None
        finally:
            self.client.cancel([future for future in futures if not future.done()])

    def close(self) -> None:
        self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_engine(scheduler: str | None = None, workers: int | None = None, tasks: int | None = None):
    """The engine for ``tasks`` calls: a :class:`DaskEngine` when ``scheduler`` is given; else a
    :class:`LocalPool` of ``workers`` processes (None: one per core), never more than ``tasks``; None (run them
    in this process) when that comes to one process. Close what it returns (a context manager)."""
    if scheduler is not None:
        return DaskEngine(scheduler)
    size = workers if workers is not None else (os.cpu_count() or 1)
    if tasks is not None:
        size = min(size, tasks)
    return LocalPool(size) if size > 1 else None


@dataclass(frozen=True)
class EngineChoice:
    """What ``--scheduler`` and ``--workers`` ask for, opened once the number of tasks is known."""

    scheduler: str | None = None
    workers: int | None = None

    def __post_init__(self):
        if self.workers is not None and (isinstance(self.workers, bool) or not isinstance(self.workers, int)
                                         or self.workers < 1):
            raise InputError("--workers", f"must be 1 or more, a whole number of processes (got {self.workers!r})")
        if self.scheduler is not None and self.workers is not None:
            raise InputError("--workers", "sizes the local pool: with --scheduler the cluster's workers run the tasks")

    def open(self, tasks: int):
        """:func:`open_engine` for ``tasks`` calls (None for none or one, unless a scheduler is named)."""
        if tasks < 1:
            return None
        return open_engine(self.scheduler, self.workers, tasks)
