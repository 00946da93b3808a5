"""The command line as a user meets it: outputs, summaries, exit codes, one-line errors."""

import csv
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from equispec.cli.main import main
from tests.conftest import EXAMPLES, PHDOS


def run(*args, timeout=300):
    """Run the real executable in a subprocess: catches tracebacks and wrong exit codes."""
    return subprocess.run([sys.executable, "-m", "equispec", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def test_predict_writes_csv_json_and_plot(tmp_path, capsys):
    files = [EXAMPLES / "Si.cif", EXAMPLES / "NaCl.cif", EXAMPLES / "AlP.POSCAR"]
    assert main(["predict", *map(str, files), "-o", str(tmp_path / "dos.csv"), "--plot", str(tmp_path / "dos.png")]) == 0
    printed = capsys.readouterr().out
    assert "Si.cif: Si, 2 atoms, peak" in printed and "AlP.POSCAR: AlP" in printed
    with open(tmp_path / "dos.csv") as handle:
        lines = handle.read().splitlines()
    # first one '# NAME: expected_mse=... percentile_among_valid=...' line per structure (the calibrated spread)
    comments = [line for line in lines if line.startswith("#")]
    assert [c.split(": ")[0] for c in comments] == [f"# {f}" for f in files]
    assert all("expected_mse=" in c and "percentile_among_valid=" in c for c in comments)
    rows = list(csv.reader(lines[len(comments):]))
    # the shipped model is an ensemble: each structure's DOS is followed by its member spread
    assert rows[0] == ["freq_cm1", *[f"{f}{suffix}" for f in map(str, files) for suffix in ("", ":std")]]
    assert len(rows) == 52 and rows[-1][0] == "1000"
    table = np.array(rows[1:], dtype=float)
    dos, std = table[:, 1::2], table[:, 2::2]
    assert np.allclose(dos.max(axis=0), 1.0, atol=1e-5) and (table >= 0).all()
    assert (std.max(axis=0) > 0).all() and (std.max(axis=0) < 1).all()
    assert (tmp_path / "dos.png").read_bytes()[:4] == b"\x89PNG"
    umask = os.umask(0)
    os.umask(umask)
    for name in ("dos.csv", "dos.png"):  # written atomically, yet with the usual permissions
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask

    assert main(["predict", str(files[0]), "-o", str(tmp_path / "dos.json")]) == 0
    record = json.loads((tmp_path / "dos.json").read_text())[0]
    assert record["formula"] == "Si" and len(record["dos"]) == 51 and set(record["partial_dos"]) == {"Si"}


def test_predict_si_has_its_optical_peak_near_the_measured_one(capsys):
    """Si's optical phonon branch peaks near 15.5 THz (~517 cm^-1) in neutron data; the DOS maximum is
    the high-frequency optical peak (DFPT: ~470-520 cm^-1 after smoothing)."""
    import equispec

    result = equispec.load_model("phdos").predict(EXAMPLES / "Si.cif")[0]
    peak = result.freq_cm1[np.argmax(result.dos)]
    assert 420 <= peak <= 540


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_text(""), "file is empty"),
    (lambda p: p.write_text("garbage\n"), "not a crystal structure"),
    (lambda p: Structure(Lattice.cubic(4.0), [{"Cu": 0.5, "Au": 0.5}], [[0, 0, 0]]).to(filename=str(p)),
     "partial occupancies"),
    (lambda p: Structure(Lattice.cubic(5.0), ["Na", "Cl"], [[0, 0, 0], [0.05, 0, 0]]).to(filename=str(p)),
     "Å apart"),
    (lambda p: Structure(Lattice.cubic(5.6), ["U", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(filename=str(p)),
     "element U is not among the 64 elements"),
    (lambda p: Structure(Lattice.cubic(12.0), ["Si", "Si", "Cs"], [[0, 0, 0], [0.2, 0, 0], [0.5, 0.5, 0.5]]).to(
        filename=str(p)), r"atom \d+ \(Cs\) has no neighbour within the 4\.5 Å cutoff"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, make, message):
    bad = tmp_path / "bad.cif"
    make(bad)
    out = tmp_path / "out.csv"
    result = run("predict", EXAMPLES / "Si.cif", bad, "-o", out)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"equispec: error: {bad}: ")
    assert re.search(message, lines[0])
    assert "Traceback" not in result.stderr and not out.exists()


def test_output_in_missing_folder(tmp_path):
    result = run("predict", EXAMPLES / "Si.cif", "-o", tmp_path / "no" / "dos.csv")
    assert result.returncode == 2 and "output folder does not exist" in result.stderr


def test_missing_file_and_unknown_model(tmp_path):
    result = run("predict", tmp_path / "none.cif")
    assert result.returncode == 2 and "none.cif: no such file" in result.stderr
    result = run("predict", EXAMPLES / "Si.cif", "--model", "nope")
    assert result.returncode == 2 and "nope: unknown model (shipped: phdos" in result.stderr


def test_existing_output_survives_a_failed_run(tmp_path):
    out = tmp_path / "keep.csv"
    out.write_text("precious\n")
    bad = tmp_path / "bad.cif"
    bad.write_text("")
    assert run("predict", bad, "-o", out).returncode == 2
    assert out.read_text() == "precious\n"


def test_evaluate_json_on_valid_meets_the_target():
    result = run("evaluate", "--model", "phdos", "--data", PHDOS / "phdos_trainval.csv",
                 "--ids", PHDOS / "splits" / "valid_mp_ids.txt", "--json", timeout=1200)  # a hang guard, not a speed test
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert set(metrics) == {"n", "mse", "mae", "r2", "wasserstein_cm1"}
    assert metrics["n"] == 141
    assert metrics["mse"] <= 0.019


def test_evaluate_without_labels_is_an_error():
    result = run("evaluate", "--data", PHDOS / "phdos_test_structures.csv")
    assert result.returncode == 2 and "has no phfreq/phdos columns" in result.stderr


def test_train_rejects_unknown_config_key(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("task: phdos\noptim:\n  learning_rate: 0.1\n")
    result = run("train", config)
    assert result.returncode == 2 and "optim.learning_rate: unknown key" in result.stderr


def test_predict_a_folder_and_a_file_list_streaming_json_lines(tmp_path, capsys, monkeypatch):
    import io as _io

    folder = tmp_path / "structures"
    folder.mkdir()
    for name in ("Si.cif", "NaCl.cif", "AlP.POSCAR"):
        (folder / name).write_bytes((EXAMPLES / name).read_bytes())
    (folder / "notes.txt").write_text("not a structure, skipped by extension\n")
    out = tmp_path / "dos.jsonl"
    assert main(["predict", str(folder), "-o", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["name"] for r in records] == [str(folder / n) for n in ("AlP.POSCAR", "NaCl.cif", "Si.cif")]
    assert all(len(r["dos"]) == 51 and max(r["dos"]) == pytest.approx(1.0, abs=1e-5) for r in records)
    assert "(3 records)" in capsys.readouterr().out and not (tmp_path / "dos.jsonl.part").exists()

    monkeypatch.setattr(sys, "stdin", _io.StringIO(f"# screening list\n{EXAMPLES / 'Si.cif'}\n\n"))
    assert main(["predict", str(EXAMPLES / "NaCl.cif"), "--files-from", "-", "-o", str(tmp_path / "two.csv")]) == 0
    with open(tmp_path / "two.csv") as handle:
        header = next(csv.reader(line for line in handle if not line.startswith("#")))
    assert header[1::2] == [str(EXAMPLES / "NaCl.cif"), str(EXAMPLES / "Si.cif")]


def test_predict_folder_errors_are_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run("predict", tmp_path / "empty")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "folder has no structure files" in result.stderr
    result = run("predict", EXAMPLES / "Si.cif", "-o", tmp_path / "dos.txt")
    assert result.returncode == 2 and "output must end in .csv, .json or .jsonl" in result.stderr


def test_interrupted_stream_keeps_finished_records_and_the_old_output(tmp_path):
    from equispec.api import load_model
    from equispec.io.spectra import JsonLinesWriter

    out = tmp_path / "dos.jsonl"
    out.write_text("previous results\n")
    predictions = load_model("phdos").predict([EXAMPLES / "Si.cif", EXAMPLES / "NaCl.cif"])
    with pytest.raises(KeyboardInterrupt):
        with JsonLinesWriter(out) as writer:
            writer.write(predictions[0])
            raise KeyboardInterrupt
    assert out.read_text() == "previous results\n"
    finished = (tmp_path / "dos.jsonl.part").read_text().splitlines()
    assert len(finished) == 1 and json.loads(finished[0])["formula"] == "Si"
