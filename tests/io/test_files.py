"""io/files.py in-process: names within the filesystem's limit, the output lock, whole records."""

from __future__ import annotations

import json
import os

import pytest

from equispec.errors import InputError
from equispec.io.files import JsonLinesWriter, OutputLock, atomic_write, display_name, name_max, sidecar


def test_sidecars_fit_the_name_limit_and_are_stable(tmp_path):
    limit = name_max(tmp_path)
    short, long = tmp_path / "out.jsonl", tmp_path / ("x" * (limit - 6) + ".jsonl")
    assert sidecar(short, ".part").name == "out.jsonl.part"
    hashed = sidecar(long, ".part")
    assert len(os.fsencode(hashed.name)) <= limit and hashed.name.endswith(".part")
    assert sidecar(long, ".part") == hashed != sidecar(tmp_path / ("y" * (limit - 6) + ".jsonl"), ".part")


def test_atomic_write_uses_short_temporaries_and_removes_its_own(tmp_path):
    target = tmp_path / ("z" * (name_max(tmp_path) - 4) + ".csv")  # the longest legal name
    seen = []
    atomic_write(target, lambda tmp: (seen.append(os.path.basename(tmp)), open(tmp, "w").write("new")))
    assert target.read_text() == "new" and seen[0].startswith(f".equispec-{os.getpid()}-")
    stranger = tmp_path / f".equispec-{os.getpid()}-00000000.tmp"  # another run's temporary: not ours to remove
    stranger.write_text("theirs")

    def fail(tmp):
        raise OSError(28, "No space left on device")

    with pytest.raises(InputError, match="No space left on device.*existing file is unchanged"):
        atomic_write(target, fail)
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, stranger.name])


def test_a_second_lock_on_one_output_is_refused_and_the_lock_goes_with_its_holder(tmp_path):
    out = tmp_path / "x.csv"
    with OutputLock(out):
        with pytest.raises(InputError, match=rf"another equispec run \(pid {os.getpid()}\) is writing this output"):
            with OutputLock(out):
                pass
    assert list(tmp_path.iterdir()) == []
    with OutputLock(out):  # free again
        pass


def test_a_record_interrupted_between_writes_is_cut_off(tmp_path, monkeypatch):
    out = tmp_path / "x.jsonl"
    with pytest.raises(KeyboardInterrupt):
        with JsonLinesWriter(out) as writer:
            writer.write({"name": "a"})
            real_write = os.write
            calls = []

            def interrupted(fd, data):
                calls.append(len(data))
                if len(calls) == 1:
                    return real_write(fd, bytes(data[:5]))  # a short write
                raise KeyboardInterrupt

            monkeypatch.setattr(os, "write", interrupted)
            writer.write({"name": "b", "dos": [1.0] * 50})
    monkeypatch.undo()
    assert [json.loads(line) for line in (tmp_path / "x.jsonl.part").read_text().splitlines()] == [{"name": "a"}]


def test_display_name_makes_any_name_utf8():
    assert display_name(os.fsdecode(b"\xff\xfeSi.cif")) == "\ufffd\ufffdSi.cif"
    assert display_name("Cu\u2082O.cif") == "Cu\u2082O.cif"
    assert display_name("\ud800") == "?"
