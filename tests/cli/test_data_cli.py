"""``equispec data ...`` and ``equispec predict mp-...`` as a user runs them: real subprocesses, pointed at
the fake Materials Project on 127.0.0.1 by EQUISPEC_MP_ENDPOINT, with the network guard loaded in the
child (tests/workflows/mp_site/sitecustomize.py) and its connection log checked."""

import gzip
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from equispec.data.datasets import read_phdos_csv
from equispec.data.xas import read_xas_dataset
from tests.workflows import mp_guard
from tests.workflows.mp_fake import BAD_KEY, GOOD_KEY, FakeServer, env_for_cli

mp_guard.install_network_guard()

#: What the issue allows for a failure without key or network.
FAIL_WITHIN_S = 15.0


def run_cli(args, env, timeout=300):
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "equispec", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)
    return proc, time.monotonic() - start


def assert_one_line_error(proc, pattern):
    import re

    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert re.match(pattern, lines[0]), lines[0]


def assert_only_loopback(tmp_path):
    log = tmp_path / "net.log"
    hosts = log.read_text().split() if log.exists() else []
    # every connection the child made went to this machine; anything else was refused by the guard
    assert all(mp_guard.is_loopback(h) or h.startswith("blocked:") for h in hosts), hosts


@pytest.fixture
def fake():
    with FakeServer() as server:
        yield server


@pytest.fixture
def ids_file(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("# materials\nmp-149\nmp-30\nmp-1265\nmp-404\n")
    return path


def test_data_phdos_builds_a_training_csv_and_keeps_the_key_secret(fake, tmp_path, ids_file):
    dos_json = tmp_path / "dos.json"
    fake.db.dump_dos(dos_json)
    env = env_for_cli(tmp_path, fake.endpoint, GOOD_KEY, str(dos_json))
    out = tmp_path / "out.csv"
    proc, _ = run_cli(["data", "phdos", "--ids", str(ids_file), "-o", str(out)], env)
    assert proc.returncode == 0, proc.stderr
    assert "wrote 2 entries" in proc.stdout
    assert "mp-30: no DFPT phonon data" in proc.stdout and "mp-404: unknown id" in proc.stdout
    table = read_phdos_csv(out)
    assert table.ids == ["mp-149", "mp-1265"] and table.dos.shape == (2, 51)
    assert GOOD_KEY not in proc.stdout + proc.stderr
    for path in (tmp_path / "cache").rglob("*.gz"):
        assert GOOD_KEY.encode() not in gzip.decompress(path.read_bytes())
    assert GOOD_KEY.encode() not in out.read_bytes()
    assert_only_loopback(tmp_path)

    # the rerun comes from the cache: no data request, same bytes
    before = len(fake.data_requests())
    proc, _ = run_cli(["data", "phdos", "--ids", str(ids_file), "-o", str(tmp_path / "again.csv")], env)
    assert proc.returncode == 0 and len(fake.data_requests()) == before
    assert (tmp_path / "again.csv").read_bytes() == out.read_bytes()


def test_data_xas_builds_an_omnixas_grid_folder(fake, tmp_path):
    env = env_for_cli(tmp_path, fake.endpoint, GOOD_KEY)
    proc, _ = run_cli(["data", "xas", "--element", "Cu", "--edge", "K", "-o", str(tmp_path / "cu")], env)
    assert proc.returncode == 0, proc.stderr
    assert "mp-361 site 0: spectrum covers" in proc.stdout
    data = read_xas_dataset(tmp_path / "cu")
    assert data.spectrum.shape == (1, 141) and np.all(np.isfinite(data.spectrum))
    assert_only_loopback(tmp_path)


def test_predict_accepts_a_materials_project_id(fake, tmp_path):
    env = env_for_cli(tmp_path, fake.endpoint, GOOD_KEY)
    proc, _ = run_cli(["predict", "mp-149", "--model", "phdos"], env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("mp-149") and "Si" in proc.stdout
    assert_only_loopback(tmp_path)


def test_predict_unknown_id_is_a_one_line_error(fake, tmp_path):
    proc, _ = run_cli(["predict", "mp-999999"], env_for_cli(tmp_path, fake.endpoint, GOOD_KEY))
    assert_one_line_error(proc, r"^equispec: error: mp-999999: no such material in the Materials Project$")


def _closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/"


@pytest.fixture
def silent_server():
    """A server that accepts connections and never answers: the network hangs."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


DATA_COMMANDS = {
    "data phdos": lambda tmp: ["data", "phdos", "--ids", str(tmp / "ids.txt"), "-o", str(tmp / "o.csv")],
    "data xas": lambda tmp: ["data", "xas", "--element", "Cu", "-o", str(tmp / "x")],
    "predict": lambda tmp: ["predict", "mp-149", "--model", "phdos"],
}


@pytest.mark.parametrize("command", list(DATA_COMMANDS))
@pytest.mark.parametrize("case", ["no key", "no network", "hanging network", "real endpoint, no network"])
def test_failures_are_fast_one_line_errors(tmp_path, ids_file, silent_server, command, case):
    (tmp_path / "ids.txt").write_text(ids_file.read_text())
    endpoint, key = {"no key": (_closed_port(), None), "no network": (_closed_port(), GOOD_KEY),
                     "hanging network": (silent_server, GOOD_KEY),
                     "real endpoint, no network": (None, GOOD_KEY)}[case]
    proc, seconds = run_cli(DATA_COMMANDS[command](tmp_path), env_for_cli(tmp_path, endpoint, key))
    pattern = (r"^equispec: error: MP_API_KEY: no Materials Project API key" if case == "no key"
               else r"^equispec: error: \S+: cannot reach the Materials Project")
    assert_one_line_error(proc, pattern)
    print(f"{command} / {case}: {seconds:.1f} s", file=sys.stderr)
    assert seconds < FAIL_WITHIN_S
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / "x").exists()
    assert_only_loopback(tmp_path)


def test_bad_key_is_a_one_line_error(fake, tmp_path, ids_file):
    proc, _ = run_cli(["data", "phdos", "--ids", str(ids_file), "-o", str(tmp_path / "o.csv")],
                      env_for_cli(tmp_path, fake.endpoint, BAD_KEY))
    assert_one_line_error(proc, r"^equispec: error: MP_API_KEY: the Materials Project rejected the API key")
    assert BAD_KEY not in proc.stdout + proc.stderr


def test_bad_query_and_edge_are_one_line_errors(tmp_path):
    env = env_for_cli(tmp_path, _closed_port(), GOOD_KEY)
    proc, _ = run_cli(["data", "phdos", "--query", "colour=red", "-o", str(tmp_path / "o.csv")], env)
    assert_one_line_error(proc, r"^equispec: error: --query: expected chemsys=")
    proc, _ = run_cli(["data", "xas", "--element", "Cu", "--edge", "L3", "-o", str(tmp_path / "x")], env)
    assert_one_line_error(proc, r"^equispec: error: L3: the OmniXAS grid is defined for K edges only")
