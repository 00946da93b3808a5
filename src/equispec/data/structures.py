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

from ..errors import InputError, brief

__all__ = ["StructureLike", "MIN_DISTANCE_ANG", "MAX_CELL_LENGTH_ANG", "VOLUME_PER_ATOM_RANGE_ANG3",
           "read_structure", "to_structure", "check_structure", "check_cell", "check_neighbours",
           "structure_from_ase_dict", "MP_ID_PATTERN", "is_mp_id", "MAX_ATOMS", "MAX_GRAPH_EDGES", "BYTES_PER_EDGE",
           "estimate_edges", "check_graph_size", "parse_memory_size", "default_memory_budget", "cif_blocks"]

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
#: The ceiling on a structure's neighbour graph on any machine (about 96 GB at ``BYTES_PER_EDGE``).
MAX_GRAPH_EDGES = 3_000_000
#: Peak memory per graph edge at the largest cutoff a model uses (its pretrained featurizer's): measured with
#: ``/usr/bin/time -v`` on ``predict`` (phdos, fast mode, CPU) of dense Al cells, 32 atoms (16 960 edges at
#: 5 Å) at 1.14 GB and 108 atoms (57 240 edges) at 2.46 GB: 33 kB per edge above about 0.6 GB.
BYTES_PER_EDGE = 33_000
#: What the process holds before any graph (torch, pymatgen, the model), from the same measurement.
BASE_MEMORY_BYTES = 600_000_000
#: The default budget of ``--max-memory``: this share of the machine's (or the container's) memory.
DEFAULT_MEMORY_SHARE = 0.75


_DATA_BLOCK = re.compile(rb"^[ \t]*data_", re.I | re.M)


def cif_blocks(text: str) -> dict:
    """The data blocks of a CIF that hold a structure (cell and atom sites), by name, in file order."""
    from pymatgen.io.cif import CifFile

    blocks = CifFile.from_str(text).data
    return {name: block for name, block in blocks.items()
            if any(key.lower() in ("_atom_site_fract_x", "_atom_site_cartn_x") for key in block.data)}


def _one_cif_block(path: Path, text: bytes, block: str | None):
    """The structure of the CIF block asked for, or None when the file has one structure block and no block
    was asked for (pymatgen reads it as usual). Several structure blocks without ``block`` are an error."""
    name = _display(path)
    if block is None and len(_DATA_BLOCK.findall(text)) < 2:
        return None
    try:
        blocks = cif_blocks(text.decode("utf-8", "replace"))
    except Exception:  # noqa: BLE001 - unreadable: let the ordinary reader give its error
        if block is None:
            return None
        raise InputError(name, "not a CIF file whose blocks can be read (--block)") from None
    if block is None:
        if len(blocks) < 2:
            return None
        shown = ", ".join(list(blocks)[:10]) + (", ..." if len(blocks) > 10 else "")
        raise InputError(name, f"CIF has {len(blocks)} structure blocks ({shown}): choose one with --block NAME")
    if block not in blocks:
        raise InputError(name, f"no structure block {brief(block)} (blocks: {', '.join(list(blocks)[:10]) or 'none'})")
    try:
        return Structure.from_str(str(blocks[block]), fmt="cif")
    except Exception as exc:  # noqa: BLE001 - pymatgen raises many types for unreadable blocks
        raise InputError(name, f"block {block} is not a readable structure ({str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__})") from None


def _display(path) -> str:
    from ..io.files import display_name

    return display_name(path)


def read_structure(path: str | os.PathLike, block: str | None = None) -> Structure:
    """Read a crystal file with pymatgen (CIF, POSCAR, ...), falling back to ASE for other formats.

    Args:
        path: the file.
        block: CIF only: the data block to read. A CIF with several structure blocks needs it (the first
            block is not silently taken); with one structure block it may be left out.
    """
    path = Path(path)
    name = _display(path)
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
        if block is not None or path.suffix.lower() in (".cif", ".mcif"):
            structure = _one_cif_block(path, text, block)
        try:
            if structure is None:
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

    A string such as ``mp-149`` that is not an existing file is a Materials Project id. Reading it needs the
    network, which is the workflows layer's business (:func:`equispec.workflows.resolve_structures`, used
    by the command line and ``equispec.predict`` / ``compare`` / ``identify``), not this reader's.
    """
    if isinstance(obj, Structure):
        structure = obj
        label = name or (obj.composition.reduced_formula if len(obj) else "structure")
    elif isinstance(obj, str) and not Path(obj).exists() and is_mp_id(obj):
        raise InputError(obj, "is a Materials Project id, not a file: fetch it first with "
                              "equispec.workflows.resolve_structures (equispec.predict and the command line do)")
    elif isinstance(obj, (str, os.PathLike)):
        structure, label = read_structure(obj), name or _display(obj)
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
    check_graph_size(structure, _CLOSE_SEARCH_ANG, name)  # the search below is a graph too
    if not structure.is_ordered:
        site = next(s for s in structure if not s.is_ordered)
        raise InputError(name, f"partial occupancies are not supported (site {site.species_string})")
    dummy = [sp.symbol for sp in structure.composition if isinstance(sp, DummySpecies)]
    if dummy:
        raise InputError(name, f"species {dummy[0]} is not a chemical element")
    # searched at 3 Å and filtered: a 0.5 Å search grids the cell into 0.5 Å cubes (40 s and 5 GB for
    # 2000 atoms in a 271 Å cell, against 1 s at 3 Å)
    centres, neighbours, _, distances = _wrapped(structure).get_neighbor_list(_CLOSE_SEARCH_ANG)
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


_CLOSE_SEARCH_ANG = 3.0


def estimate_edges(structure: Structure, cutoff_ang: float) -> int:
    """Edges of the periodic radius graph, estimated without building it: atoms x (number density x the
    cutoff sphere's volume). Exact on average for a uniform crystal; the cell was checked to be sane."""
    volume = abs(float(structure.lattice.volume))
    neighbours = len(structure) / volume * 4.0 / 3.0 * np.pi * cutoff_ang ** 3
    return int(round(len(structure) * neighbours))


def check_graph_size(structure: Structure, cutoff_ang: float, name: str, max_memory_bytes: float | None = None,
                     bytes_per_edge: float = BYTES_PER_EDGE) -> None:
    """Refuse, before any neighbour search, a structure whose graph at ``cutoff_ang`` is over
    ``MAX_GRAPH_EDGES`` or (with ``max_memory_bytes``) whose estimated peak memory is over the budget; a
    dense 2028-atom cell would otherwise grow to tens of GB and die in an allocation error."""
    edges = estimate_edges(structure, cutoff_ang)
    density = abs(float(structure.lattice.volume)) / len(structure)
    what = f"about {edges:,} neighbour-graph edges at {cutoff_ang:g} Å ({len(structure)} atoms, {density:.3g} Å³ per atom)"
    if edges > MAX_GRAPH_EDGES:
        raise InputError(name, f"{what}: over the ceiling of {MAX_GRAPH_EDGES:,} edges per structure")
    if max_memory_bytes is not None:
        need = BASE_MEMORY_BYTES + edges * bytes_per_edge
        if need > max_memory_bytes:
            raise InputError(name, f"{what} need about {need / 1e9:.3g} GB, over the {max_memory_bytes / 1e9:.3g} GB "
                                   "memory budget (predict --max-memory; by default 3/4 of the machine's memory)")


def parse_memory_size(text: str) -> int:
    """``8G``, ``500M``, ``1.5GB``, ``2T`` or plain bytes (powers of 1000) -> bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]?)b?\s*", str(text), re.I)
    if not match or float(match.group(1)) <= 0:
        raise InputError("--max-memory", f"expected a size such as 8G or 500M, got {str(text)[:40]!r}")
    scale = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


def default_memory_budget() -> int:
    """``DEFAULT_MEMORY_SHARE`` of the machine's memory, or of the container's limit where it is lower."""
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            limit = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if limit.isdigit():
            total = min(total, int(limit))
    return int(DEFAULT_MEMORY_SHARE * total)


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
