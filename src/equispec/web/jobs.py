"""Jobs: each physics, hybrid or S(Q,E) request runs in a worker process of its own (``spawn``: a fresh
interpreter, never a fork of a server that holds torch threads), reports its progress through a queue, can
be cancelled, and keeps its result and files until the server stops. Fast requests are jobs too, run at once
in the server (whose models stay loaded), so that their downloads are served the same way, by job id."""

from __future__ import annotations

import json
import multiprocessing
import queue as queue_module
import re
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import EquispecError
from .tasks import TaskSpec, run_task

__all__ = ["Job", "JobManager"]

_CONTEXT = multiprocessing.get_context("spawn")
#: matplotlib's pyplot is not thread-safe: the server draws one figure at a time.
_DRAWING = threading.Lock()


@dataclass
class Job:
    """One request's state: ``queued``, ``running``, then ``done``, ``failed`` or ``cancelled``."""

    id: str
    spec: TaskSpec
    folder: Path
    status: str = "queued"
    progress: float = 0.0
    stage: str = "waiting for a worker"
    error: str | None = None
    result: dict | None = None
    created: float = field(default_factory=time.time)
    started: float = 0.0
    seconds: float | None = None
    process: object = field(default=None, repr=False)
    messages: object = field(default=None, repr=False)
    drawings: dict = field(default_factory=dict, repr=False)  # PNG name -> draw(path), drawn when first asked for

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", "cancelled")

    def to_dict(self) -> dict:
        """What the page polls: status, progress and, once done, the result with download addresses."""
        out = {"id": self.id, "status": self.status, "progress": round(self.progress, 3), "stage": self.stage,
               "error": self.error, "seconds": self.seconds}
        if self.result is not None:
            out["result"] = {**self.result, "downloads": [{"name": name, "url": f"/api/jobs/{self.id}/files/{name}"}
                                                          for name in self.result["downloads"]]}
        return out

    def file(self, name: str) -> Path | None:
        """A download of this job by its listed name (nothing else in the folder is served); a figure not
        drawn yet is drawn now, once."""
        if self.result is None or name not in self.result["downloads"]:
            return None
        with _DRAWING:
            draw = self.drawings.pop(name, None)
            if draw is not None:
                draw(self.folder / name)
        return self.folder / name


#: An upload's generated folder inside the server's private folder: the page shows the file's own name.
_UPLOAD_FOLDER = re.compile(r"/[^\s:'\"]*/uploads/[0-9a-f]{32}/")


def error_line(exc: BaseException) -> str:
    """The one line a failure shows on the page: an equispec error as the command line prints it, with each
    uploaded file named as it was sent (not by where the server keeps it)."""
    if isinstance(exc, EquispecError):
        from ..io.files import display_name

        text = display_name(" ".join(str(exc).split()))
    else:
        text = f"internal error ({type(exc).__name__}): {' '.join(str(exc).split())[:300]}"
    return _UPLOAD_FOLDER.sub("", text)


def _work(spec: dict, folder: str, messages) -> None:
    """A worker process: run the task, write ``result.json``, and say how it went."""
    import warnings

    warnings.filterwarnings("ignore")

    def report(fraction: float, stage: str) -> None:
        messages.put(("progress", fraction, stage))

    try:
        result, _ = run_task(TaskSpec(**spec), Path(folder), report=report)
        from ..io.files import atomic_write

        text = json.dumps(result)
        atomic_write(Path(folder) / "result.json", lambda tmp: Path(tmp).write_text(text))
        messages.put(("done",))
    except BaseException as exc:  # noqa: BLE001 - every failure becomes the job's one line
        messages.put(("error", error_line(exc)))
    finally:
        messages.close()
        messages.join_thread()


class JobManager:
    """Runs up to ``workers`` worker jobs at a time; the rest wait in order."""

    def __init__(self, root: Path, workers: int = 1):
        self.root = Path(root)
        self.workers = max(1, int(workers))
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="equispec-jobs", daemon=True)
        self._thread.start()

    def _new(self, spec: TaskSpec) -> Job:
        job_id = secrets.token_urlsafe(18)
        folder = self.root / "jobs" / job_id
        folder.mkdir(parents=True, mode=0o700)
        job = Job(job_id, spec, folder)
        with self._lock:
            self._jobs[job_id] = job
        return job

    def run_here(self, spec: TaskSpec, predictor: Callable[[], object]) -> Job:
        """Run a fast request in this thread with the predictor that ``predictor()`` returns (loaded once by
        the server); a failure to load it fails the job like any other."""
        job = self._new(spec)
        job.status, job.stage = "running", "predicting"
        started = time.perf_counter()
        try:
            job.result, job.drawings = run_task(spec, job.folder, predictor=predictor(), draw=False)
            job.status, job.progress, job.stage = "done", 1.0, "done"
        except Exception as exc:  # noqa: BLE001 - shown on the page in one line; the server stays up
            job.status, job.error, job.stage = "failed", error_line(exc), "failed"
        job.seconds = round(time.perf_counter() - started, 3)
        return job

    def submit(self, spec: TaskSpec) -> dict:
        """Queue ``spec`` for a worker process; returns the job's record as queued (taken before the job
        thread may start it)."""
        job = self._new(spec)
        with self._lock:
            record = job.to_dict()
            self._lock.notify()
        return record

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def cancel(self, job_id: str) -> Job | None:
        """Stop a queued or running job; its worker is terminated and whatever it wrote is removed."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.finished:
                return job
            process = job.process
            job.status, job.stage = "cancelled", "cancelled"
        if process is not None:
            process.terminate()
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join()
            self._drop_queue(job)
        shutil.rmtree(job.folder, ignore_errors=True)
        return job

    def close(self) -> None:
        """Stop every worker (the server is stopping)."""
        with self._lock:
            self._closed = True
            self._lock.notify()
            running = [job for job in self._jobs.values() if job.process is not None and not job.finished]
        for job in running:
            self.cancel(job.id)
        self._thread.join(5)

    def _loop(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                running = [job for job in self._jobs.values() if job.status == "running" and job.process is not None]
                queued = sorted((job for job in self._jobs.values() if job.status == "queued"), key=lambda j: j.created)
                for job in queued[: max(0, self.workers - len(running))]:
                    self._start(job)
                    running.append(job)
            for job in running:
                self._poll(job)
            with self._lock:
                self._lock.wait(0.1)

    @staticmethod
    def _drop_queue(job: Job) -> None:
        """Close a finished job's queue (nothing more will be read), so that its semaphores are freed now."""
        if job.messages is not None:
            job.messages.close()
            job.messages.cancel_join_thread()
            job.messages = None

    def _start(self, job: Job) -> None:
        job.messages = _CONTEXT.Queue()
        job.process = _CONTEXT.Process(target=_work, args=(job.spec.to_dict(), str(job.folder), job.messages),
                                       name=f"equispec-job-{job.id[:8]}")  # not a daemon: a job may start a pool
        job.status, job.stage, job.progress = "running", "starting a worker", 0.01
        job.started = time.perf_counter()
        job.process.start()

    def _poll(self, job: Job) -> None:
        outcome = None
        while True:
            try:
                message = job.messages.get_nowait()
            except (queue_module.Empty, OSError, ValueError):
                break
            if message[0] == "progress" and not job.finished:
                job.progress, job.stage = float(message[1]), str(message[2])
            elif message[0] in ("done", "error"):
                outcome = message
        if outcome is None and job.process.is_alive():
            return
        job.process.join(5)
        with self._lock:
            if job.finished:  # cancelled meanwhile
                return
            self._drop_queue(job)
            job.seconds = round(time.perf_counter() - job.started, 3)
            if outcome is not None and outcome[0] == "done":
                job.result = json.loads((job.folder / "result.json").read_text())
                job.status, job.progress, job.stage = "done", 1.0, "done"
            else:
                job.status, job.stage = "failed", "failed"
                job.error = outcome[1] if outcome else f"the worker ended without a result (exit status {job.process.exitcode})"
