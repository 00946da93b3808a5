"""Outputs are transactions (issue 23): interrupted, doubled, refused and failing runs of the real CLI keep
every record already written and never leave a half line, a mixed file or a stranger's file removed."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.faults.cli import error_line, example, listing, ok, overlapping_cif, run, start

STRUCTURES = ("Si.cif", "GaAs.cif", "AlP.POSCAR")


def inputs(folder: Path) -> list[Path]:
    folder.mkdir(exist_ok=True)
    return [example(name, folder) for name in STRUCTURES]


def records(path: Path) -> list[dict]:
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), "a half-written last line"
    return [json.loads(line) for line in data.splitlines()]


def test_a_failed_run_keeps_an_earlier_runs_part_file(tmp_path):
    """Main deleted OUT.jsonl.part of an earlier interrupted run when a later run failed its input checks."""
    part = tmp_path / "out.jsonl.part"
    part.write_text('{"name": "earlier"}\n')
    si, bad = example("Si.cif", tmp_path), overlapping_cif(tmp_path)
    line = error_line(run("predict", si, bad, "-o", "out.jsonl", cwd=tmp_path))
    assert "out.jsonl.part" in line and "--resume" in line  # without --resume it is refused, not replaced
    assert part.read_text() == '{"name": "earlier"}\n'
    line = error_line(run("predict", si, bad, "-o", "out.jsonl", "--resume", cwd=tmp_path))
    assert "overlapping.cif" in line and "apart" in line
    assert part.read_text() == '{"name": "earlier"}\n'
    assert listing(tmp_path) == ["Si.cif", "out.jsonl.part", "overlapping.cif"]


def test_resume_after_a_kill_writes_each_structure_exactly_once(tmp_path):
    files = inputs(tmp_path / "in")
    (tmp_path / "out.jsonl").write_text('{"name": "an older run"}\n')
    killed = run("predict", *files, "-o", "out.jsonl", cwd=tmp_path, EQUISPEC_FAULT_SIGNAL="after_record1:SIGKILL")
    assert killed.returncode == -signal.SIGKILL
    part = tmp_path / "out.jsonl.part"
    first = part.read_bytes()
    assert [r["name"] for r in records(part)] == [str(files[0])]
    assert (tmp_path / "out.jsonl").read_text() == '{"name": "an older run"}\n'  # replaced only whole, at the end
    assert listing(tmp_path) == ["in", "out.jsonl", "out.jsonl.lock", "out.jsonl.part"]  # a killed run's lock: free
    with part.open("ab") as handle:  # what a crash in the middle of a write (before this fix) left
        handle.write(b'{"name": "' + str(files[1]).encode() + b'", "dos": [0.1, 0.')
    assert "--resume" in error_line(run("predict", *files, "-o", "out.jsonl", cwd=tmp_path))
    resumed = run("predict", *files, "-o", "out.jsonl", "--resume", cwd=tmp_path)
    out = ok(resumed)
    assert "dropped a half-written last line" in resumed.stderr.decode()
    assert "(3 records, 1 kept from the interrupted run)" in out
    written = records(tmp_path / "out.jsonl")
    assert sorted(r["name"] for r in written) == sorted(map(str, files))  # each exactly once
    assert (tmp_path / "out.jsonl").read_bytes().startswith(first)  # the earlier record as it was
    assert listing(tmp_path) == ["in", "out.jsonl"]


def test_sigterm_is_an_interruption_that_keeps_whole_records(tmp_path):
    files = inputs(tmp_path / "in")
    result = run("predict", *files, "-o", "out.jsonl", cwd=tmp_path, EQUISPEC_FAULT_SIGNAL="after_record2:SIGTERM")
    assert result.returncode == 130 and result.stderr.decode().strip().splitlines()[-1] == "equispec: interrupted"
    assert len(records(tmp_path / "out.jsonl.part")) == 2
    assert listing(tmp_path) == ["in", "out.jsonl.part"]  # the lock went with the run


def test_two_writers_cannot_both_succeed(tmp_path):
    """Main: both runs shared one fixed .part name; the file ended in a fragment and one run crashed."""
    files = inputs(tmp_path / "in")
    first = start("predict", *files, "-o", "out.jsonl", cwd=tmp_path, EQUISPEC_FAULT_SIGNAL="after_record1:SIGSTOP")
    try:
        _, status = os.waitpid(first.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status), "the first writer should stop after its first record"
        line = error_line(run("predict", *files, "-o", "out.jsonl", cwd=tmp_path))
        assert f"another equispec run (pid {first.pid}) is writing this output" in line
        assert len(records(tmp_path / "out.jsonl.part")) == 1  # the second run did not touch it
    finally:
        os.kill(first.pid, signal.SIGCONT)
    _, status = os.waitpid(first.pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    first.returncode = 0
    assert sorted(r["name"] for r in records(tmp_path / "out.jsonl")) == sorted(map(str, files))
    assert listing(tmp_path) == ["in", "out.jsonl"]


def test_a_folder_that_vanishes_is_one_line(tmp_path):
    files = inputs(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    writer = start("predict", *files, "-o", out / "x.jsonl", cwd=tmp_path, EQUISPEC_FAULT_SIGNAL="after_record1:SIGSTOP")
    _, status = os.waitpid(writer.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status)
    for name in os.listdir(out):
        (out / name).unlink()
    out.rmdir()
    os.kill(writer.pid, signal.SIGCONT)
    stdout, stderr = writer.communicate(timeout=300)
    writer.stdout, writer.stderr = stdout, stderr
    assert "output folder no longer exists" in error_line(writer)


def test_an_output_that_is_an_input_is_refused_before_any_work(tmp_path):
    """Main overwrote a pymatgen JSON structure with the results and exited 0."""
    from pymatgen.core import Structure

    structure = tmp_path / "Si.json"
    structure.write_text(Structure.from_file(example("Si.cif", tmp_path)).to_json())
    before = structure.read_bytes()
    (tmp_path / "link.json").symlink_to(structure)
    os.link(structure, tmp_path / "hard.json")
    for output in ("Si.json", "./link.json", "hard.json", str(structure)):
        line = error_line(run("predict", "Si.json", "-o", output, cwd=tmp_path))
        assert "is the input Si.json" in line
    assert structure.read_bytes() == before
    assert listing(tmp_path) == ["Si.cif", "Si.json", "hard.json", "link.json"]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_legal_long_output_name_is_written(tmp_path, suffix):
    """Main: 246 characters + .csv failed with ENAMETOOLONG after the prediction (the temporary name was longer)."""
    si = example("Si.cif", tmp_path)
    name = "d" * (250 - len(suffix)) + suffix
    assert len(name) == 250
    ok(run("predict", si, "-o", name, cwd=tmp_path))
    assert listing(tmp_path) == sorted(["Si.cif", name])
    assert (tmp_path / name).stat().st_size > 0


def test_an_output_name_too_long_for_the_filesystem_is_one_line_before_work(tmp_path):
    si = example("Si.cif", tmp_path)
    line = error_line(run("predict", si, "-o", "d" * 296 + ".csv", cwd=tmp_path))
    assert "file name is 300 bytes long; this filesystem takes at most 255" in line
    assert listing(tmp_path) == ["Si.cif"]


def test_a_non_utf8_input_name_is_written_safely(tmp_path):
    """Main: UnicodeEncodeError when the CSV header got the name ``b'\\xff\\xfeSi.cif'``."""
    example("Si.cif", tmp_path, as_name=b"\xff\xfeSi.cif")
    out = ok(run("predict", b"\xff\xfeSi.cif", "-o", "out.csv", "--plot", "out.png", cwd=tmp_path))
    assert "\ufffd\ufffdSi.cif: Si, 2 atoms" in out
    lines = (tmp_path / "out.csv").read_bytes().decode("utf-8").splitlines()  # valid UTF-8, comments included
    comments = [line for line in lines if line.startswith("#")]
    assert comments and all("\ufffd\ufffdSi.cif" in line for line in comments)  # the reliability lines name it
    header = lines[len(comments)]
    assert header.split(",")[:2] == ["freq_cm1", "\ufffd\ufffdSi.cif"]
    ok(run("predict", b"\xff\xfeSi.cif", "-o", "out.jsonl", cwd=tmp_path))
    assert records(tmp_path / "out.jsonl")[0]["name"] == "\ufffd\ufffdSi.cif"
    line = error_line(run("predict", b"\xfe\xffmissing.cif", cwd=tmp_path))
    assert "\ufffd\ufffdmissing.cif: no such file" in line
