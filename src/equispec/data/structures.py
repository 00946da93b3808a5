"""Turn whatever a user hands us (file path, pymatgen ``Structure``, ASE ``Atoms``) into a checked,
ordered pymatgen ``Structure``, or fail with one sentence that names the input and the problem."""

from __future__ import annotations

import ast
import os
import re
import warnings
from pathlib import Path
from typing import Union

import numpy as np
from pymatgen.core import Structure

from ..errors import InputError

__all__ = ["StructureLike", "MIN_DISTANCE_ANG", "read_structure", "to_structure", "check_structure",
           "structure_from_ase_dict"]

StructureLike = Union[str, os.PathLike, Structure, "ase.Atoms"]  # noqa: F821

#: Atoms closer than this are a broken file, not a crystal.
MIN_DISTANCE_ANG = 0.5


def read_structure(path: str | os.PathLike) -> Structure:
    """Read a crystal file with pymatgen (CIF, POSCAR, ...), falling back to ASE for other formats."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputError(name, "no such file")
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise InputError(name, f"cannot read file ({exc.strerror})") from None
    if not text.strip():
        raise InputError(name, "file is empty")
    structure = None
    errors = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            structure = Structure.from_file(path)
        except Exception as exc:  # pymatgen raises many types for unreadable files
            errors.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        if structure is None:
            try:
                import ase.io

                atoms = ase.io.read(path)
                structure = _from_ase(atoms, name)
            except InputError:
                raise
            except Exception as exc:
                errors.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    if structure is None:
        raise InputError(name, "not a crystal structure that pymatgen or ASE can read"
                         + (f" ({errors[0]})" if errors else ""))
    return structure


def _from_ase(atoms, name: str) -> Structure:
    from pymatgen.io.ase import AseAtomsAdaptor

    if len(atoms) == 0:
        raise InputError(name, "structure has no atoms")
    if not np.all(atoms.pbc) or abs(atoms.cell.volume) < 1e-6:
        raise InputError(name, "not a periodic crystal (needs a 3D cell with periodic boundaries)")
    return AseAtomsAdaptor.get_structure(atoms)


def structure_from_ase_dict(text: str) -> Structure:
    """Parse the data set's ``str(ase.Atoms.todict())`` column safely (``ast.literal_eval``, never eval)."""
    from ase import Atoms

    return _from_ase(Atoms.fromdict(ast.literal_eval(text)), "structure column")


def _is_mp_id(text: str) -> bool:
    return re.match(r"^(mp|mvc)-\d+$", text) is not None


def to_structure(obj: StructureLike, name: str | None = None) -> tuple[Structure, str]:
    """Return ``(checked structure, display name)`` for a path, ``Structure`` or ``Atoms``.

    A string such as ``mp-149`` that is not an existing file is a Materials Project id: its structure
    comes from :mod:`.materials_project` (cached on disk; needs ``MP_API_KEY`` the first time).
    """
    if isinstance(obj, Structure):
        structure = obj
        label = name or (obj.composition.reduced_formula if len(obj) else "structure")
    elif isinstance(obj, str) and not Path(obj).exists() and _is_mp_id(obj):
        from .materials_project import fetch_structure  # imported only when an id is given

        structure, label = fetch_structure(obj), name or obj
    elif isinstance(obj, (str, os.PathLike)):
        structure, label = read_structure(obj), name or str(obj)
    elif type(obj).__name__ == "Atoms" and hasattr(obj, "get_positions"):
        label = name or (obj.get_chemical_formula() if len(obj) else "Atoms")
        structure = _from_ase(obj, label)
    else:
        raise InputError(name or type(obj).__name__, "expected a file path, pymatgen Structure or ASE Atoms")
    check_structure(structure, label)
    return structure, label


def check_structure(structure: Structure, name: str) -> None:
    """Reject structures no model should be run on: empty, disordered, or with overlapping atoms."""
    if len(structure) == 0:
        raise InputError(name, "structure has no atoms")
    if not structure.is_ordered:
        site = next(s for s in structure if not s.is_ordered)
        raise InputError(name, f"partial occupancies are not supported (site {site.species_string})")
    if structure.lattice.volume < 1e-6:
        raise InputError(name, "cell has zero volume")
    centres, neighbours, _, distances = structure.get_neighbor_list(MIN_DISTANCE_ANG)
    if len(distances):
        k = int(np.argmin(distances))
        i, j = int(centres[k]), int(neighbours[k])
        raise InputError(
            name,
            f"atoms {i} ({structure[i].specie}) and {j} ({structure[j].specie}) are "
            f"{distances[k]:.3f} Å apart (< {MIN_DISTANCE_ANG} Å)",
        )
