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
from pymatgen.core.periodic_table import DummySpecies

from ..errors import InputError

__all__ = ["StructureLike", "MIN_DISTANCE_ANG", "MAX_CELL_LENGTH_ANG", "VOLUME_PER_ATOM_RANGE_ANG3",
           "read_structure", "to_structure", "check_structure", "check_cell", "check_neighbours",
           "structure_from_ase_dict", "MP_ID_PATTERN", "is_mp_id", "MAX_ATOMS"]

StructureLike = Union[str, os.PathLike, Structure, "ase.Atoms"]  # noqa: F821

#: What counts as a Materials Project id on the command line.
MP_ID_PATTERN = re.compile(r"^(mp|mvc)-\d+$")
#: Atoms closer than this are a broken file, not a crystal.
MIN_DISTANCE_ANG = 0.5
#: Longer lattice vectors are a unit mistake (nm, pm, a typo): the neighbour search would try to grid them.
MAX_CELL_LENGTH_ANG = 1000.0
#: Crystals lie well inside this (diamond 5.7, zeolites about 20 Å^3 per atom); outside it, the file is broken.
VOLUME_PER_ATOM_RANGE_ANG3 = (1.0, 1.0e4)
#: Lattice planes closer than this: a nearly flat cell, whose neighbour search needs millions of images.
MIN_PLANE_SPACING_ANG = 0.1
#: More atoms than any model here was meant for; the neighbour search grows with their number and spread.
MAX_ATOMS = 10_000
#: Fractional coordinates beyond this are a broken file; smaller ones outside [0, 1) are wrapped.
MAX_FRACTIONAL = 1000.0


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


def is_mp_id(text: str) -> bool:
    """``mp-149``, ``mvc-123``: a Materials Project id."""
    return MP_ID_PATTERN.match(text) is not None


def to_structure(obj: StructureLike, name: str | None = None) -> tuple[Structure, str]:
    """Return ``(checked structure, display name)`` for a path, ``Structure`` or ``Atoms``.

    A string such as ``mp-149`` that is not an existing file is a Materials Project id: its structure
    comes from :mod:`.materials_project` (cached on disk; needs ``MP_API_KEY`` the first time).
    """
    if isinstance(obj, Structure):
        structure = obj
        label = name or (obj.composition.reduced_formula if len(obj) else "structure")
    elif isinstance(obj, str) and not Path(obj).exists() and is_mp_id(obj):
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
    return _wrapped(structure), label


def _wrapped(structure: Structure) -> Structure:
    """The structure with every site inside the cell (a copy where one was outside): the neighbour search
    spans the atoms' bounding box, and the models are invariant to wrapping."""
    frac = structure.frac_coords
    if ((frac >= 0) & (frac < 1)).all():
        return structure
    return Structure(structure.lattice, structure.species, frac % 1.0, site_properties=structure.site_properties)


def check_structure(structure: Structure, name: str) -> None:
    """Reject structures no model should be run on: empty, broken cell, disordered, or overlapping atoms."""
    if len(structure) == 0:
        raise InputError(name, "structure has no atoms")
    if len(structure) > MAX_ATOMS:
        raise InputError(name, f"structure has {len(structure)} atoms; at most {MAX_ATOMS:,} are supported")
    check_cell(structure, name)
    if not structure.is_ordered:
        site = next(s for s in structure if not s.is_ordered)
        raise InputError(name, f"partial occupancies are not supported (site {site.species_string})")
    dummy = [sp.symbol for sp in structure.composition if isinstance(sp, DummySpecies)]
    if dummy:
        raise InputError(name, f"species {dummy[0]} is not a chemical element")
    # searched at 3 Å and filtered: a 0.5 Å search grids the cell into 0.5 Å cubes (40 s and 5 GB for
    # 2000 atoms in a 271 Å cell, against 1 s at 3 Å)
    centres, neighbours, _, distances = _wrapped(structure).get_neighbor_list(3.0)
    close = distances < MIN_DISTANCE_ANG
    centres, neighbours, distances = centres[close], neighbours[close], distances[close]
    if len(distances):
        k = int(np.argmin(distances))
        i, j = int(centres[k]), int(neighbours[k])
        raise InputError(
            name,
            f"atoms {i} ({structure[i].specie}) and {j} ({structure[j].specie}) are "
            f"{distances[k]:.3f} Å apart (< {MIN_DISTANCE_ANG} Å)",
        )


def check_cell(structure: Structure, name: str) -> None:
    """The cell is a finite 3D box of crystal size, checked before any neighbour search (a cell length of
    1e9 Å would make it allocate exabytes)."""
    matrix = np.asarray(structure.lattice.matrix, dtype=float)
    if not np.isfinite(matrix).all():
        raise InputError(name, "cell contains NaN or infinite numbers")
    if not np.isfinite(structure.frac_coords).all():
        raise InputError(name, "atomic coordinates contain NaN or infinite numbers")
    if np.abs(structure.frac_coords).max() > MAX_FRACTIONAL:
        raise InputError(name, f"fractional coordinate {np.abs(structure.frac_coords).max():.4g} lies far outside "
                               "the cell")
    lengths = np.linalg.norm(matrix, axis=1)
    if lengths.max() > MAX_CELL_LENGTH_ANG:
        k = int(np.argmax(lengths))
        raise InputError(name, f"cell length {'abc'[k]} = {lengths[k]:.4g} Å is over {MAX_CELL_LENGTH_ANG:g} Å "
                               "(lengths must be in Å)")
    volume = abs(float(np.linalg.det(matrix)))
    low, high = VOLUME_PER_ATOM_RANGE_ANG3
    if not low <= volume / len(structure) <= high:
        raise InputError(name, f"volume per atom {volume / len(structure):.4g} Å³ is outside {low:g}-{high:g} Å³: "
                               "not a crystal cell in Å")
    areas = np.linalg.norm(np.cross(matrix[[1, 2, 0]], matrix[[2, 0, 1]]), axis=1)
    spacing = volume / areas
    if spacing.min() < MIN_PLANE_SPACING_ANG:
        k = int(np.argmin(spacing))
        raise InputError(name, f"cell is nearly flat: lattice planes ({' '.join('1' if i == k else '0' for i in range(3))})"
                               f" are {spacing[k]:.3g} Å apart; give a reduced (e.g. Niggli) cell")


def check_neighbours(structure: Structure, cutoff_ang: float, name: str) -> None:
    """Every atom has a neighbour within the model's cutoff (else the network sees an isolated atom)."""
    centres = _wrapped(structure).get_neighbor_list(cutoff_ang)[0]
    lonely = np.setdiff1d(np.arange(len(structure)), centres)
    if len(lonely):
        i = int(lonely[0])
        raise InputError(name, f"atom {i} ({structure[i].specie}) has no neighbour within the {cutoff_ang:g} Å cutoff")
