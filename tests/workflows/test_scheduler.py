"""``predict``/``evaluate --scheduler ADDRESS``: the physics DOS of many structures on an existing Dask cluster
(a ``distributed.LocalCluster`` of two worker processes here), each result stored in the physics cache by the
client as it arrives. The same DOS as in this process; a worker killed mid-run loses nothing (Dask runs its
task again elsewhere); an interrupted client keeps what arrived; a wrong address or a fast-mode run is refused
with one line. Every run writes to a cache folder of its own under tmp_path."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import equispec.engines as engines
import equispec.physics.cache as physics_cache
from equispec.cli.main import main
from tests.conftest import EXAMPLES, PHDOS

#: small structures, ~1 s each with SevenNet-0 on one thread
STRUCTURES = [EXAMPLES / name for name in ("Al.cif", "V.cif", "NaCl.cif", "GaAs.cif")]
PHYSICS = ["--mode", "physics", "--potential", "7net-0"]

# Dask workers start with OMP_NUM_THREADS=1 (its nanny's default), and the reference runs on one thread too,
# so the two are usually the same bits; a cluster configured otherwise sums SevenNet's float32 messages in
# another order, which moves this max-normalised 51-bin DOS by up to ~3e-4 (tests/physics/test_engines.py).
DOS_ATOL = 1e-3


def predict(tmp_path, name: str, *options) -> tuple[int, dict | None]:
    """``predict --mode physics`` of STRUCTURES into its own cache; returns (exit status, name -> DOS)."""
    out = tmp_path / f"{name}.json"
    code = main(["predict", *map(str, STRUCTURES), *PHYSICS, "--cache", str(tmp_path / f"cache-{name}"),
                 "-o", str(out), *map(str, options)])
    if code != 0:
        return code, None
    return code, {record["name"]: np.asarray(record["dos"]) for record in json.loads(out.read_text())}


def entries(tmp_path, name: str) -> int:
    return len(list((tmp_path / f"cache-{name}").rglob("*.npz")))


def assert_same_dos(got: dict, expected: dict) -> None:
    assert list(got) == list(expected)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=0, atol=DOS_ATOL, err_msg=key)


class Stored(list):
    """Names stored in the physics cache, and ``hook(count)`` run after each."""

    hook = None


@pytest.fixture
def puts(monkeypatch):
    """Names the client stores in the physics cache (one per structure computed), with a hook run after each."""
    stored, real = Stored(), physics_cache.PhysicsDosCache.put

    def counting(self, structure, raw, name=None):
        real(self, structure, raw, name)
        stored.append(name)
        if stored.hook is not None:
            stored.hook(len(stored))

    monkeypatch.setattr(physics_cache.PhysicsDosCache, "put", counting)
    return stored


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    import logging

    # loopback only, no dashboard: nothing to resolve or expose beyond this machine (and the Materials Project
    # tests' network guard, once installed in this process, refuses any other name)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=logging.ERROR) as local, \
            distributed.Client(local, set_as_default=False) as client:
        yield local.scheduler_address, client


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The DOS of STRUCTURES computed in this process (``--workers 1``), on one thread."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        code, dos = predict(tmp_path_factory.mktemp("reference"), "here", "--workers", "1")
    finally:
        torch.set_num_threads(previous)
    assert code == 0
    return dos


@pytest.mark.slow
def test_a_dask_cluster_gives_the_dos_of_this_process(cluster, reference, tmp_path, puts):
    address, _ = cluster
    scheduler_file = tmp_path / "scheduler.json"  # as `dask scheduler --scheduler-file FILE` writes it
    scheduler_file.write_text(json.dumps({"type": "Scheduler", "address": address}))
    code, dos = predict(tmp_path, "dask", "--scheduler", scheduler_file)
    assert code == 0 and sorted(puts) == sorted(str(path) for path in STRUCTURES)
    assert_same_dos(dos, reference)
    assert entries(tmp_path, "dask") == len(STRUCTURES)


def busy_worker_pid(client) -> int | None:
    """The pid of a worker running a task now (waiting up to 5 s for one), or None."""
    pids = client.run(os.getpid)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        busy = [worker for worker, tasks in client.processing().items() if tasks and worker in pids]
        if busy:
            return pids[busy[0]]
        time.sleep(0.05)
    return None


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_nothing_and_a_rerun_computes_nothing(cluster, reference, tmp_path, puts):
    address, client = cluster
    killed = []

    def kill_after_the_first_result(count):
        if count == 1:
            killed.append(busy_worker_pid(client))
            assert killed[0] is not None, "no worker was running a task after the first result"
            os.kill(killed[0], signal.SIGKILL)  # its task is lost with it: the scheduler gives it to the other

    puts.hook = kill_after_the_first_result
    code, dos = predict(tmp_path, "killed", "--scheduler", address)
    assert code == 0 and len(killed) == 1 and len(puts) == len(STRUCTURES)
    assert_same_dos(dos, reference)
    assert entries(tmp_path, "killed") == len(STRUCTURES)
    puts.clear()
    puts.hook = None
    code, again = predict(tmp_path, "killed", "--scheduler", address)
    assert code == 0 and puts == []  # every entry from the cache
    assert_same_dos(again, reference)


@pytest.mark.slow
def test_an_interrupted_client_keeps_what_arrived_and_the_rerun_computes_the_rest(cluster, reference, tmp_path,
                                                                                  puts):
    address, _ = cluster
    k = 2

    def interrupt(count):
        if count == k:
            raise KeyboardInterrupt

    puts.hook = interrupt
    code, _ = predict(tmp_path, "interrupted", "--scheduler", address)
    assert code == 130 and entries(tmp_path, "interrupted") == k
    assert not list((tmp_path / "cache-interrupted").rglob(".*.npz*"))  # no half-written entry
    puts.clear()
    puts.hook = None
    code, dos = predict(tmp_path, "interrupted", "--scheduler", address)
    assert code == 0 and len(puts) == len(STRUCTURES) - k
    assert_same_dos(dos, reference)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("equispec: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_an_unreachable_scheduler_is_one_line_naming_it(capsys, monkeypatch, tmp_path, phdos_csv):
    pytest.importorskip("distributed")
    monkeypatch.setattr(engines, "CONNECT_TIMEOUT_S", 1.0)
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    assert main(["predict", str(STRUCTURES[0]), *PHYSICS, "--cache", str(tmp_path), "--scheduler", address]) == 2
    err = one_error_line(capsys)
    assert f"--scheduler: no Dask scheduler answers at {address}" in err
    assert main(["evaluate", "--data", str(phdos_csv), *PHYSICS, "--cache", str(tmp_path), "--scheduler",
                 address]) == 2
    assert address in one_error_line(capsys)
    assert main(["predict", str(STRUCTURES[0]), *PHYSICS, "--scheduler", "somewhere"]) == 2
    assert "somewhere is not a Dask address" in one_error_line(capsys)
    assert not list(tmp_path.rglob("*.npz"))


@pytest.mark.parametrize("options, message", [
    (["--scheduler", "tcp://127.0.0.1:8786"], "--scheduler: is for --mode physics or hybrid"),
    (["--workers", "2"], "--workers: is for --mode physics or hybrid"),
    (["--mode", "physics", "--workers", "0"], "--workers: must be 1 or more"),
    (["--mode", "physics", "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "--workers: sizes the local pool"),
    (["--mode", "physics", "--dispersion", "--workers", "2"], "--workers: --dispersion takes one structure"),
], ids=["scheduler in fast mode", "workers in fast mode", "no workers", "both", "dispersion"])
def test_engine_options_that_do_not_fit_are_refused_with_one_line(options, message, capsys):
    assert main(["predict", str(STRUCTURES[0]), *options]) == 2
    assert message in one_error_line(capsys)


def test_evaluate_refuses_scheduler_in_fast_mode(capsys):
    assert main(["evaluate", "--data", str(PHDOS / "phdos_trainval.csv"), "--scheduler", "tcp://127.0.0.1:8786"]) == 2
    assert "--scheduler: is for --mode physics or hybrid" in one_error_line(capsys)


def test_refusing_the_engine_options_loads_neither_torch_nor_dask():
    probe = ("import contextlib, io, json, sys\nfrom equispec.cli.main import main\n"
             "with contextlib.redirect_stderr(io.StringIO()):\n"
             "    code = main(['predict', 'x.cif', '--scheduler', 'tcp://127.0.0.1:8786'])\n"
             "print(json.dumps([code, sorted({m.split('.')[0] for m in sys.modules} & "
             "{'torch', 'pymatgen', 'dask', 'distributed'})]))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [2, []]
