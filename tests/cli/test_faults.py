"""Faults a probe of interruptions, pipes and damaged files found, each reproduced first: a truncated physics-
cache entry, a FIFO among the inputs, Ctrl-C during start-up, a missing optional dependency, and the physics
cache that ``predict`` and ``evaluate`` share."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import equispec.physics.cache as physics_cache
import equispec.physics.phonopy_dos as phonopy_dos
from equispec.cli.main import main
from tests.conftest import EXAMPLES, PHDOS

VALID_ID = "mp-1784"  # CsF: 2 atoms, in the valid split


def synthetic_raw(seconds: float = 0.0) -> physics_cache.RawPhysicsDos:
    """A raw DOS with 6 modes spread evenly on 0-400 cm^-1 (no potential involved)."""
    freq = np.arange(0.0, 401.0)
    return physics_cache.RawPhysicsDos(freq, np.full(freq.shape, 6.0 / 400.0), {"imaginary_fraction": 0.0,
                                                                                 "seconds": seconds})


def test_truncated_physics_cache_entry_is_recomputed_with_a_one_line_note(tmp_path, capsys, monkeypatch):
    ids = tmp_path / "ids.txt"
    ids.write_text(VALID_ID + "\n")
    calls = []
    monkeypatch.setattr(physics_cache, "compute_raw_dos",
                        lambda s, name, settings, device="cpu": (calls.append(name), synthetic_raw())[1])
    argv = ["evaluate", "--data", str(PHDOS / "phdos_trainval.csv"), "--ids", str(ids), "--mode", "physics",
            "--potential", "7net-0", "--cache", str(tmp_path / "cache"), "--json"]
    assert main(argv) == 0 and len(calls) == 1
    first = json.loads(capsys.readouterr().out)
    (entry,) = (tmp_path / "cache").rglob("*.npz")
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])  # what a killed copy or a full disk leaves
    assert main(argv) == 0 and len(calls) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out) == first
    notes = [line for line in captured.err.splitlines() if "physics-cache" in line]
    assert len(notes) == 1 and notes[0].startswith(f"equispec: note: {entry}: unreadable physics-cache entry")
    assert "Traceback" not in captured.err
    assert main(argv) == 0 and len(calls) == 2  # the entry was written again whole
    assert "physics-cache" not in capsys.readouterr().err


def test_a_fifo_among_the_inputs_is_read_like_files_from(tmp_path, capsys):
    fifo = tmp_path / "inputs"
    os.mkfifo(fifo)

    def writer():
        with open(fifo, "w") as handle:
            handle.write(f"# structures\n{EXAMPLES / 'Si.cif'}\n{EXAMPLES / 'GaAs.cif'}\n")

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    out = tmp_path / "dos.json"
    assert main(["predict", str(fifo), "-o", str(out)]) == 0
    thread.join(timeout=10)
    assert [r["formula"] for r in json.loads(out.read_text())] == ["Si", "GaAs"]


@pytest.mark.parametrize("after_s", [0.4, 1.2, 1.8])  # a cold predict of Si.cif takes 2.4 s idle
def test_ctrl_c_at_any_moment_is_one_line_and_exit_130(after_s, tmp_path):
    """``python -m equispec predict`` interrupted while it imports torch and pymatgen (the first seconds), reads
    the structure or runs the model: always the one line and status 130, never a traceback."""
    # a shell starts background jobs (a CI runner's, say) with SIGINT ignored, and Python keeps it ignored:
    # the child gets the default disposition, as a command typed at a terminal has
    proc = subprocess.Popen([sys.executable, "-m", "equispec", "predict", str(EXAMPLES / "Si.cif"), "-o",
                             str(tmp_path / "si.csv")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(after_s)
    if proc.poll() is not None:
        pytest.skip(f"the command finished within {after_s} s")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert err.strip() == "equispec: interrupted"
    assert not (tmp_path / "si.csv").exists()


INTERRUPTED_IMPORT = """
import signal, sys
from equispec.cli.main import _interrupt
from equispec.io.files import atomic_write
signal.signal(signal.SIGINT, _interrupt)
sys.path.insert(0, sys.argv[1])
atomic_write(sys.argv[2], lambda tmp: __import__("interrupts_itself"))
"""


def test_ctrl_c_during_an_import_ends_at_once_and_removes_the_temporary_file(tmp_path):
    """A Ctrl-C that lands while a module is imported (here inside an output being written) is not raised
    there, where a C++ extension would abort on it or the import lock would swallow it: the process ends with
    the one line and 130, and the output's temporary file is gone."""
    (tmp_path / "interrupts_itself.py").write_text("import os, signal, time\nos.kill(os.getpid(), signal.SIGINT)\n"
                                                  "time.sleep(30)\n")
    out = tmp_path / "out" / "result.csv"
    out.parent.mkdir()
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_IMPORT, str(tmp_path), str(out)], capture_output=True,
                          text=True, timeout=60, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert (done.returncode, done.stderr.strip()) == (130, "equispec: interrupted")
    assert list(out.parent.iterdir()) == []


def test_a_missing_optional_dependency_fails_before_any_physics(tmp_path, capsys, monkeypatch):
    def no_physics(*args, **kwargs):
        raise AssertionError("physics started before the dependency check")

    monkeypatch.setattr(physics_cache, "physics_dos", no_physics)
    monkeypatch.setattr(phonopy_dos, "displaced_forces", no_physics)
    monkeypatch.setitem(sys.modules, "euphonic", None)  # import euphonic now raises ImportError
    started = time.perf_counter()
    code = main(["predict", str(EXAMPLES / "Al.cif"), "--mode", "physics", "--ins", "-o", str(tmp_path / "al.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and time.perf_counter() - started < 5
    assert err[0].startswith("equispec: error: --ins: ") and "pip install 'equispec[neutron]'" in err[0]
    monkeypatch.setitem(sys.modules, "phonopy", None)
    assert main(["evaluate", "--data", str(PHDOS / "phdos_trainval.csv"), "--mode", "physics", "--no-cache"]) == 2
    assert "pip install 'equispec[physics]'" in capsys.readouterr().err


@pytest.mark.slow
def test_predict_and_evaluate_share_the_physics_cache(tmp_path, capsys, monkeypatch, one_thread, phdos_csv):
    """``evaluate`` computes CsF once and stores its forces; ``predict --mode physics`` of the same structure
    then calls no potential and returns the spectra of those forces, identical on a rerun."""
    from equispec.api import load_model
    from equispec.data.datasets import read_phdos_csv

    ids = tmp_path / "ids.txt"
    ids.write_text(VALID_ID + "\n")
    cache = tmp_path / "cache"
    assert main(["evaluate", "--data", str(phdos_csv), "--ids", str(ids), "--mode", "physics", "--potential",
                 "7net-0", "--cache", str(cache), "--json"]) == 0
    capsys.readouterr()

    def no_forces(*args, **kwargs):
        raise AssertionError("the potential was called although the cache holds the forces")

    monkeypatch.setattr(phonopy_dos, "displaced_forces", no_forces)
    structure = read_phdos_csv(phdos_csv).subset([VALID_ID], "test").structures[0]
    predictor = load_model("phdos", mode="physics", potential="7net-0")
    predictor.use_physics_cache(cache)
    first, again = predictor.predict(structure)[0], predictor.predict(structure)[0]
    assert first.dos.tolist() == again.dos.tolist() and first.full_range.dos.tolist() == again.full_range.dos.tolist()
    assert first.partial_dos.keys() == {"Cs", "F"} and first.force_constants is not None
    assert len(list(cache.rglob("*.npz"))) == 1


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path):
    """``equispec compare ... --json | head -c 10``: the pipe closes before the line is printed; no traceback."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written
    done = subprocess.run([sys.executable, "-m", "equispec", "predict", str(EXAMPLES / "Si.cif")], stdout=write,
                          stderr=subprocess.PIPE, text=True, timeout=120, cwd=tmp_path)
    os.close(write)
    assert done.returncode == 141 and "Traceback" not in done.stderr, done.stderr[-2000:]
