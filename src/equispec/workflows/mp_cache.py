"""On-disk cache of Materials Project answers, one small JSON file per material and kind.

One file per answer (not one big file) is what makes an interrupted build resumable: every answer is
on disk, renamed into place whole, the moment it arrives, so a rerun asks only for what is missing.
Answers that say "nothing here" (unknown id, no phonon data) are cached too, so that a rerun makes no
request it made before; delete the folder (or one file) to ask again.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from ..io.files import CACHE_ENV, atomic_write, cache_root  # CACHE_ENV, cache_root: re-exported

__all__ = ["CACHE_ENV", "cache_root", "default_cache_dir", "DiskCache"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_cache_dir(endpoint: str) -> Path:
    """Cache folder for one API endpoint, so that a test server's answers never mix with the real ones."""
    host = urlsplit(endpoint).netloc or "default"
    return cache_root() / "materials_project" / _UNSAFE.sub("_", host)


class DiskCache:
    """``get``/``put`` JSON values under ``root/kind/key.json.gz``."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, kind: str, key: str) -> Path:
        return self.root / _UNSAFE.sub("_", kind) / f"{_UNSAFE.sub('_', key)}.json.gz"

    def get(self, kind: str, key: str):
        """The stored value, or None when absent or unreadable (a damaged file is simply fetched again)."""
        path = self.path(kind, key)
        try:
            with gzip.open(path, "rt") as handle:
                return json.load(handle)
        except (OSError, ValueError, EOFError):
            return None

    def put(self, kind: str, key: str, value) -> None:
        path = self.path(kind, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = gzip.compress(json.dumps(value).encode())
        atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
