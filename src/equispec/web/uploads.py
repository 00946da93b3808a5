"""Uploaded files: a name is checked as the command line checks a path, and the file is stored under a
generated folder inside a private temporary folder, so that no name a browser sends becomes a path."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

__all__ = ["Upload", "UploadFolder", "check_file_name", "STRUCTURE_SUFFIXES", "MEASURED_SUFFIXES"]

#: What a structure upload may be: pymatgen's and ASE's usual structure files, or VASP's POSCAR/CONTCAR.
STRUCTURE_SUFFIXES = (".cif", ".mcif", ".vasp", ".poscar", ".xyz", ".extxyz", ".json", ".cell", ".xsf", ".pdb")
#: What a measurement may be: XDI or text XAS, a phonon DOS table, or an S(Q,E) map (``.npz``).
MEASURED_SUFFIXES = (".xdi", ".xmu", ".nor", ".txt", ".dat", ".csv", ".npz")
_VASP_NAMES = re.compile(r"^(POSCAR|CONTCAR)([._-][A-Za-z0-9._-]*)?$")
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+()\- ]{0,199}$")


def check_file_name(name: str, suffixes: tuple[str, ...], what: str) -> str:
    """``name`` when it is a plain file name (no folder, no ``..``, no control character) with one of
    ``suffixes``; else an ``InputError`` naming it."""
    shown = repr(name)[1:-1][:80] or "(no name)"
    if "/" in name or "\\" in name or ".." in name or not _PLAIN_NAME.match(name):
        raise InputError(shown, f"not a plain file name (letters, digits, '._-+() ', no folders or '..'): "
                                f"upload the {what} under a plain name")
    if not (name.lower().endswith(suffixes) or (what == "structure" and _VASP_NAMES.match(name))):
        raise InputError(shown, f"not a {what} file this page reads (expected {', '.join(suffixes)}"
                                + (", POSCAR or CONTCAR)" if what == "structure" else ")"))
    return name


@dataclass(frozen=True)
class Upload:
    """One stored upload: ``path`` on disk (generated folder, the checked name) and ``name`` as sent."""

    path: Path
    name: str


class UploadFolder:
    """A private folder (mode 0700) for one server's uploads and job results, removed when it stops."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        os.chmod(self.root, 0o700)

    def store(self, name: str, data: bytes, suffixes: tuple[str, ...], what: str) -> Upload:
        """Store ``data`` under a new unguessable folder with the checked ``name``; an empty file is refused."""
        check_file_name(name, suffixes, what)
        if not data:
            raise InputError(name, f"the uploaded {what} file is empty")
        folder = self.root / "uploads" / secrets.token_hex(16)
        folder.mkdir(parents=True, mode=0o700)
        path = folder / name
        with open(path, "xb") as handle:
            handle.write(data)
        return Upload(path, name)
