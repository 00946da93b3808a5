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


# --- cached_sha256 (issue 24): a file unchanged since its last check is not read again ---------------------------

def _old_file(path, data: bytes, age_s: float = 60.0):
    path.write_bytes(data)
    then = path.stat().st_mtime_ns - int(age_s * 1e9)
    os.utime(path, ns=(then, then))
    return path


def test_cached_sha256_reads_an_unchanged_file_once(tmp_path, monkeypatch):
    import hashlib

    from equispec.io import files

    path = _old_file(tmp_path / "weights.bin", b"x" * 3000)
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    assert files.cached_sha256(path) == expected
    assert (files.cache_root() / files.HASH_CACHE).is_file()  # EQUISPEC_CACHE_DIR: the test's own folder
    monkeypatch.setattr(files, "sha256", lambda p: pytest.fail("an unchanged file was hashed again"))
    assert files.cached_sha256(str(path)) == expected


def test_cached_sha256_sees_a_change_that_keeps_size_and_mtime(tmp_path):
    import hashlib

    from equispec.io.files import cached_sha256

    path = _old_file(tmp_path / "weights.bin", b"a" * 100)
    cached_sha256(path)
    mtime = path.stat().st_mtime_ns
    path.write_bytes(b"b" * 100)  # same size; the mtime put back: the inode's change time still moves
    os.utime(path, ns=(mtime, mtime))
    assert cached_sha256(path) == hashlib.sha256(b"b" * 100).hexdigest()


def test_cached_sha256_does_not_trust_a_file_hashed_right_after_a_write(tmp_path, monkeypatch):
    from equispec.io import files

    path = tmp_path / "fresh.bin"
    path.write_bytes(b"new")  # written now: a second write in the same timestamp tick could go unseen
    files.cached_sha256(path)
    calls = []
    original = files.sha256
    monkeypatch.setattr(files, "sha256", lambda p: calls.append(p) or original(p))
    files.cached_sha256(path)
    assert len(calls) == 1


def test_cached_sha256_ignores_a_broken_or_unwritable_cache(tmp_path, monkeypatch):
    import hashlib

    from equispec.io import files

    path = _old_file(tmp_path / "weights.bin", b"y" * 10)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / files.HASH_CACHE).write_text("{not json")
    monkeypatch.setenv(files.CACHE_ENV, str(tmp_path / "cache"))
    assert files.cached_sha256(path) == hashlib.sha256(b"y" * 10).hexdigest()
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(files.CACHE_ENV, str(blocker / "cache"))  # a folder that cannot be made
    assert files.cached_sha256(path) == hashlib.sha256(b"y" * 10).hexdigest()
