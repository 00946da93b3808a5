"""Writing files so that a crash or a bad input never leaves a half-written output behind."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from ..errors import InputError

__all__ = ["atomic_write", "atomic_savez", "read_text", "sha256"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write) -> None:
    """Call ``write(tmp_path)`` on a temporary file in the same folder, then rename it onto ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_savez(path: str | os.PathLike, arrays: dict, compressed: bool = False) -> None:
    """``np.savez`` (or ``savez_compressed``) of plain arrays, written atomically like :func:`atomic_write`."""
    import numpy as np

    save = np.savez_compressed if compressed else np.savez

    def write(tmp):
        with open(tmp, "wb") as handle:  # a handle: numpy would append ".npz" to the temporary name
            save(handle, **arrays)

    atomic_write(path, write)


def read_text(path: str | os.PathLike, what: str = "a file") -> str:
    """The text of a file the user named: a regular file, or a pipe such as bash's ``<(...)`` (read once,
    so never ``is_file()`` first); ``-`` is standard input. Fails with one line naming the path."""
    import sys

    name = str(path)
    if name == "-":
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
