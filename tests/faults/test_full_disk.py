"""A full disk (issue 23): a small tmpfs when the tests run as root, else an ``OSError(ENOSPC)`` injected at
the write through the test hook. Either way: one line, exit status 2, the old output as it was, no temporary
file left, and a streamed run's whole records kept for ``--resume``."""

from __future__ import annotations

import errno
import json
import os
import subprocess

import pytest

from tests.faults.cli import error_line, example, listing, ok, run

STRUCTURES = ("Si.cif", "GaAs.cif", "AlP.POSCAR")


@pytest.fixture
def disk(tmp_path):
    """``(folder, fill)``: a 256 kB tmpfs and a function that fills it up to ``free`` bytes; or, where no
    tmpfs can be mounted, a plain folder and None (the tests then inject the error)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)],
                                                   capture_output=True).returncode == 0
    if not mounted:
        yield folder, None
        return

    def fill(free: int) -> None:
        block = b"\0" * 4096
        with open(folder / "filler", "ab", buffering=0) as handle:
            try:
                while True:
                    handle.write(block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
        size = (folder / "filler").stat().st_size
        os.truncate(folder / "filler", max(0, (size - free) // 4096 * 4096))  # whole pages freed
        assert os.statvfs(folder).f_bfree * 4096 >= free

    try:
        yield folder, fill
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_full_disk_keeps_the_old_json_and_leaves_no_temporary(tmp_path, disk):
    """Main: an OSError traceback."""
    folder, fill = disk
    si = example("Si.cif", tmp_path)
    old = folder / "out.json"
    old.write_text('["old results"]\n')
    if fill:
        fill(0)
        hooks = {}
    else:
        hooks = {"EQUISPEC_FAULT_OSERROR": "write:ENOSPC"}
    line = error_line(run("predict", si, "-o", old, cwd=tmp_path, **hooks))
    assert f"{old}: cannot write it (No space left on device); the existing file is unchanged" in line
    assert old.read_text() == '["old results"]\n'
    assert listing(folder) == (["filler", "out.json"] if fill else ["out.json"])


def test_full_disk_while_streaming_keeps_whole_records_and_resumes(tmp_path, disk):
    """Main: a .part ending in a half-written line."""
    folder, fill = disk
    files = [example(name, tmp_path) for name in STRUCTURES]
    out = folder / "out.jsonl"
    if fill:
        fill(8192)  # a page for the lock file and one for the records: the first (2.4 kB) fits, not all three
        hooks = {}
    else:
        hooks = {"EQUISPEC_FAULT_OSERROR": "record2:ENOSPC"}  # fails half way through the second record
    line = error_line(run("predict", *files, "-o", out, cwd=tmp_path, **hooks))
    assert "No space left on device" in line and "rerun with --resume" in line, line
    data = (folder / "out.jsonl.part").read_bytes()
    assert data == b"" or data.endswith(b"\n")  # no half line
    kept = [json.loads(line)["name"] for line in data.splitlines()]
    assert 0 < len(kept) < 3 and kept == [str(f) for f in files[: len(kept)]]
    if fill:
        (folder / "filler").unlink()
    ok(run("predict", *files, "-o", out, "--resume", cwd=tmp_path))
    names = [json.loads(line)["name"] for line in out.read_bytes().splitlines()]
    assert sorted(names) == sorted(map(str, files))
    assert listing(folder) == ["out.jsonl"]
