"""Writing files as transactions: a crash, a full disk or a second run never leaves a half-written or
mixed output behind, and never removes what another run wrote.

- :func:`atomic_write` writes a temporary file with a short unique name (pid and random, so within the
  filesystem's name limit whatever the output's name) beside the output, and renames it into place; only
  the call that made a temporary file removes it.
- :class:`OutputLock` (``OUT.lock``, an ``flock``) lets one run at a time write an output; the kernel drops
  the lock when its holder dies, so a killed run blocks nobody.
- :class:`JsonLinesWriter` streams whole records to ``OUT.jsonl.part`` and can resume an interrupted run.

``EQUISPEC_FAULT_SIGNAL`` and ``EQUISPEC_FAULT_OSERROR`` (``POINT:NAME``, e.g. ``record1:SIGKILL``,
``write:ENOSPC``) are hooks for ``tests/faults`` only: they send a signal, or fail a write half way, at a
named point, so that the fault tests run the real CLI.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import signal
import time
from pathlib import Path

from ..errors import InputError

__all__ = ["atomic_write", "atomic_savez", "read_text", "sha256", "cached_sha256", "name_max", "check_name_length",
           "sidecar", "OutputLock", "JsonLinesWriter", "display_name", "fault_point", "CACHE_ENV", "cache_root",
           "remove_own_temporaries"]

#: Environment variable that moves the cache (default: ``$XDG_CACHE_HOME/equispec`` or ``~/.cache/equispec``).
CACHE_ENV = "EQUISPEC_CACHE_DIR"


def cache_root() -> Path:
    """equispec's cache folder: ``EQUISPEC_CACHE_DIR``, else ``$XDG_CACHE_HOME/equispec`` or ``~/.cache/equispec``.
    Each kind of cache (Materials Project answers, physics DOS, file hashes) has its own subfolder or file."""
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "equispec"


def display_name(text) -> str:
    """A name as text that any UTF-8 stream or file takes: bytes that are not UTF-8 (a file name such as
    ``b'\\xff\\xfeSi.cif'``, which Python holds as surrogates) become U+FFFD."""
    text = os.fsdecode(text) if isinstance(text, (bytes, os.PathLike)) else str(text)
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a lone surrogate that no file name made
        return text.encode("utf-8", "replace").decode("utf-8")


def fault_point(point: str, written: int = 0, handle=None) -> None:
    """Test hook: at ``point``, send the signal or raise the ``OSError`` that the environment asks for."""
    wanted = os.environ.get("EQUISPEC_FAULT_SIGNAL", "")
    if wanted and wanted.split(":")[0] == point:
        os.kill(os.getpid(), getattr(signal, wanted.split(":", 1)[1]))
    wanted = os.environ.get("EQUISPEC_FAULT_OSERROR", "")
    if wanted and wanted.split(":")[0] == point:
        code = getattr(errno, wanted.split(":", 1)[1])
        raise OSError(code, os.strerror(code))


def name_max(folder: str | os.PathLike) -> int:
    """The longest file name (in bytes) the filesystem of ``folder`` takes."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def check_name_length(path: Path) -> None:
    """A file name longer than its filesystem allows is one line before any work, not ENAMETOOLONG after."""
    length, limit = len(os.fsencode(path.name)), name_max(path.parent if path.parent.is_dir() else ".")
    if length > limit:
        raise InputError(display_name(path), f"file name is {length} bytes long; this filesystem takes at most {limit}")


def sidecar(path: str | os.PathLike, suffix: str) -> Path:
    """``OUT`` + ``suffix`` (``.part``, ``.lock``) beside ``path``, or a hashed short name where that would
    be longer than the filesystem allows: always the same name for the same output, so a rerun finds it."""
    path = Path(path)
    name = path.name + suffix
    if len(os.fsencode(name)) <= name_max(path.parent if path.parent.is_dir() else "."):
        return path.with_name(name)
    digest = hashlib.sha256(os.fsencode(path.name)).hexdigest()[:16]
    return path.with_name(f".{digest}{suffix}")


#: Temporary and lock files this process holds now, for :func:`remove_own_temporaries`.
_HELD: set[Path] = set()


def remove_own_temporaries() -> None:
    """Remove the temporary and lock files this process holds, before it ends without unwinding (an
    interrupt during an import); a failure to remove one is ignored, as the next run takes them over."""
    for path in list(_HELD):
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def _temporary(folder: Path) -> tuple[int, Path]:
    """A new file with a short unique name in ``folder`` (usual permissions: 0666 less the umask)."""
    while True:
        tmp = folder / f".equispec-{os.getpid()}-{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue


def _write_failed(path: Path, exc: OSError, existed: bool) -> InputError:
    if exc.errno == errno.ENOENT and not path.parent.is_dir():
        problem = "output folder no longer exists"
    else:
        problem = f"cannot write it ({exc.strerror or exc})"
    return InputError(display_name(path), problem + ("; the existing file is unchanged" if existed else ""))


def atomic_write(path: str | os.PathLike, write) -> None:
    """Call ``write(tmp_path)`` on a new temporary file beside ``path``, then rename it onto ``path``.

    A failure (disk full, folder gone) is an :class:`InputError` naming ``path``, and ``path`` keeps its old
    content; the temporary file is removed by this call, which is the only one that knows its name."""
    path = Path(path)
    existed = path.exists()
    try:
        fd, tmp = _temporary(path.parent)
    except OSError as exc:
        raise _write_failed(path, exc, existed) from None
    os.close(fd)
    _HELD.add(tmp)
    try:
        write(tmp)
        fault_point("write")
        with open(tmp, "rb+") as handle:  # durable before it replaces anything
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _write_failed(path, exc, existed) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        _HELD.discard(tmp)


def atomic_savez(path: str | os.PathLike, arrays: dict, compressed: bool = False) -> None:
    """``np.savez`` (or ``savez_compressed``) of plain arrays, written atomically like :func:`atomic_write`."""
    import numpy as np

    save = np.savez_compressed if compressed else np.savez

    def write(tmp):
        with open(tmp, "wb") as handle:  # a handle: numpy would append ".npz" to the temporary name
            save(handle, **arrays)

    atomic_write(path, write)


class OutputLock:
    """Holds ``OUT.lock`` (an exclusive ``flock``) while a run writes ``OUT``: a second run gets one line.

    The lock file is removed when the holder ends; one left by a killed run is free (the kernel drops the
    lock with its holder) and is taken over. Where no lock file can be made (the folder does not exist or
    is not writable), nothing is locked and the output checks give the error.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.lock_path = sidecar(self.path, ".lock")
        self._fd = None

    def __enter__(self) -> "OutputLock":
        import fcntl

        while True:
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError:
                return self
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 32).decode(errors="replace").strip()
                os.close(fd)
                raise InputError(display_name(self.path), "another equispec run "
                                 f"{f'(pid {holder}) ' if holder.isdigit() else ''}is writing this output "
                                 f"(lock {display_name(self.lock_path.name)}); wait for it or choose another name") from None
            try:  # the holder before us may have removed the file between our open and our lock
                same = os.path.samestat(os.fstat(fd), os.stat(self.lock_path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        try:  # the holder's pid, for the message a second run gets; a full disk may refuse even that
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass
        self._fd = fd
        _HELD.add(self.lock_path)
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            Path(self.lock_path).unlink(missing_ok=True)  # while still held: nobody can have it yet
            os.close(self._fd)
            self._fd = None
            _HELD.discard(self.lock_path)


class JsonLinesWriter:
    """Streams records as JSON Lines, each one whole, while a long run goes on.

    Records go to ``OUT.jsonl.part``, each in one write (a record that fails half way is cut off again, so
    the file never ends in a half line) and made durable with ``fsync`` when the run ends, when the file is
    renamed to ``OUT.jsonl``. The ``.part`` file is created with the first record, so a run that fails its
    input checks leaves nothing; an equispec error later removes it too, if this run created it.

    A ``.part`` file found at the start belongs to an earlier run that did not finish (take an
    :class:`OutputLock` so that it cannot be a run still going): with ``resume`` its whole records are kept
    and their names are in :attr:`done`, so that the caller skips them; without, it is refused in one line
    and left as it is.
    """

    def __init__(self, path: str | os.PathLike, resume: bool = False):
        self.path = Path(path)
        self.partial = sidecar(self.path, ".part")
        self.count = 0  # records written by this run
        self.done: set[str] = set()
        self.kept = 0  # whole records of an earlier run kept (resume)
        self.dropped_half_line = False
        self._fd = None
        self._created = False
        self._keep = False  # a write failed: the whole records stay for --resume
        self._initial_size = 0
        if self.partial.exists():
            if not resume:
                raise InputError(display_name(self.partial), "holds the records of an earlier run that did not "
                                 "finish: continue it with --resume (done names are skipped), or remove it")
            self._read_earlier()

    def _read_earlier(self) -> None:
        """Names of the whole records in an earlier ``.part``; a half last line (a crash mid-write) is cut."""
        name = display_name(self.partial)
        try:
            data = self.partial.read_bytes()
        except OSError as exc:
            raise InputError(name, f"cannot read it ({exc.strerror or exc})") from None
        whole = data.rfind(b"\n") + 1
        for number, line in enumerate(data[:whole].splitlines(), 1):
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                record = None
            if not isinstance(record, dict) or not isinstance(record.get("name"), str):
                raise InputError(name, f"line {number} is not an equispec record; cannot resume from it")
            self.done.add(record["name"])
            self.kept += 1
        if whole < len(data):
            self.dropped_half_line = True
            try:
                os.truncate(self.partial, whole)
            except OSError as exc:
                raise InputError(name, f"cannot cut its half-written last line ({exc.strerror or exc})") from None
        self._initial_size = whole

    def __enter__(self) -> "JsonLinesWriter":
        return self

    def _open(self) -> None:
        flags = os.O_WRONLY | os.O_APPEND
        try:
            self._fd = os.open(self.partial, flags)
        except FileNotFoundError:
            try:
                self._fd = os.open(self.partial, flags | os.O_CREAT | os.O_EXCL, 0o666)
            except OSError as exc:
                raise _write_failed(self.partial, exc, False) from None
            self._created = True
        except OSError as exc:
            raise _write_failed(self.partial, exc, False) from None

    def write(self, prediction) -> None:
        """Append one prediction's ``to_dict()`` as one line (a dict is taken as the record itself)."""
        record = prediction if isinstance(prediction, dict) else prediction.to_dict()
        data = (json.dumps(record) + "\n").encode("utf-8")
        if self._fd is None:
            self._open()
        start = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            view = memoryview(data)
            if os.environ.get("EQUISPEC_FAULT_OSERROR", "").startswith(f"record{self.count + 1}:"):
                os.write(self._fd, view[: len(data) // 2])  # a disk that fills half way through a record
            fault_point(f"record{self.count + 1}")
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as exc:
            os.ftruncate(self._fd, start)
            self._keep = True
            kept = self.kept + self.count
            raise InputError(display_name(self.partial), f"cannot write it ({exc.strerror or exc}); its {kept} "
                             "whole records are kept: rerun with --resume to continue") from None
        except BaseException:  # an interruption between two writes of one record: cut it off, too
            os.ftruncate(self._fd, start)
            raise
        self.count += 1
        fault_point(f"after_record{self.count}")

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            try:
                if self._fd is None:
                    self._open()  # no record (all skipped, or no input): an empty file, or the resumed one
                fd, self._fd = self._fd, None
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                fault_point("rename")
                os.replace(self.partial, self.path)
            except OSError as exc:
                raise _write_failed(self.path, exc, self.path.exists()) from None
            return
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if issubclass(kind, InputError) and not self._keep:  # a run that failed on its input leaves things as they were
            if self._created:
                self.partial.unlink(missing_ok=True)
            elif self.count:
                os.truncate(self.partial, self._initial_size)


def read_text(path: str | os.PathLike, what: str = "a file") -> str:
    """The text of a file the user named: a regular file, or a pipe such as bash's ``<(...)`` (read once,
    so never ``is_file()`` first); ``-`` is standard input. Fails with one line naming the path."""
    import sys

    name = display_name(path)
    if str(path) == "-":
        return sys.stdin.read()
    path = Path(path)
    if path.is_dir():
        raise InputError(name, f"is a folder, not {what}")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(name, "no such file") from None
    except OSError as exc:
        raise InputError(name, f"cannot read it ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(name, "not a text file (not UTF-8)") from None


def sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: cache_root() / this: hashes of files that have not changed since they were hashed (see cached_sha256)
HASH_CACHE = "file_sha256.json"
#: a file modified less than this long before it was hashed may change again within the same mtime tick
#: (timestamps are coarse, ~4 ms): its hash is not trusted later (git's "racily clean" rule)
_SETTLED_NS = 2_000_000_000


def _file_state(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns, "ino": st.st_ino,
            "dev": st.st_dev}


def cached_sha256(path: str | os.PathLike) -> str:
    """:func:`sha256` of a file, remembered in ``cache_root()/file_sha256.json`` by (resolved path, size,
    mtime, ctime, inode): a file that has not changed since it was hashed is not read again. An entry is
    only trusted when the file was already 2 s old when it was hashed, so that a write in the same
    timestamp tick as the hash cannot hide; any change of the file's state hashes it afresh. A cache that
    cannot be read or written is ignored (the hash is then computed every time)."""
    path = Path(path).resolve()
    state = _file_state(path)
    cache = cache_root() / HASH_CACHE
    try:
        entries = json.loads(cache.read_text())
        entries = entries if isinstance(entries, dict) else {}
    except (OSError, ValueError):
        entries = {}
    entry = entries.get(str(path))
    if isinstance(entry, dict) and {k: entry.get(k) for k in state} == state \
            and isinstance(entry.get("sha256"), str) and entry.get("checked_ns", 0) - state["mtime_ns"] > _SETTLED_NS:
        return entry["sha256"]
    checked_ns = time.time_ns()
    digest = sha256(path)
    if _file_state(path) != state:  # changed while it was read: hash it next time again
        return digest
    entries[str(path)] = {**state, "sha256": digest, "checked_ns": checked_ns}
    try:  # a temporary file of our own and a rename: readers never see half a file (no fault hooks here)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}.{secrets.token_hex(4)}")
        try:
            tmp.write_text(json.dumps(entries))
            os.replace(tmp, cache)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError:
        pass
    return digest
