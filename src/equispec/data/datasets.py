"""Labelled data sets on disk -> structures, targets and graphs."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pymatgen.core import Structure
from tqdm.auto import tqdm

from ..errors import InputError
from .. import keys
from .graphs import structure_to_graph
from .structures import structure_from_ase_dict

__all__ = ["PhononDosTable", "read_phdos_csv", "read_ids", "build_graphs", "structure_sha256"]


@dataclass
class PhononDosTable:
    """Rows of a phonon-DOS CSV in the Petretto/e3nn-tutorial format.

    Attributes:
        ids: material ids (``mp_id`` column).
        structures: pymatgen structures, one per id.
        freq_cm1: (n_bins,) frequency grid in cm^-1, or None for a file without labels.
        dos: (n_materials, n_bins) max-normalised DOS, or None for a file without labels.
    """

    ids: list[str]
    structures: list[Structure]
    freq_cm1: np.ndarray | None
    dos: np.ndarray | None

    def subset(self, ids: list[str], source: str = "ids") -> "PhononDosTable":
        index = {mp_id: i for i, mp_id in enumerate(self.ids)}
        missing = [i for i in ids if i not in index]
        if missing:
            raise InputError(source, f"{len(missing)} ids not in the data (first: {missing[0]})")
        rows = [index[i] for i in ids]
        return PhononDosTable([self.ids[r] for r in rows], [self.structures[r] for r in rows], self.freq_cm1,
                              None if self.dos is None else self.dos[rows])


def read_phdos_csv(path: str | Path) -> PhononDosTable:
    """Read ``mp_id, structure[, phfreq, phdos]`` rows; structures are parsed with ``ast.literal_eval``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "no such file")
    csv.field_size_limit(sys.maxsize)
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or [])
        if not {"mp_id", "structure"} <= columns:
            raise InputError(str(path), "expected columns mp_id and structure (and phfreq, phdos for labels)")
        labelled = {"phfreq", "phdos"} <= columns
        ids, structures, freqs, dos = [], [], None, []
        for line, row in enumerate(reader, start=2):
            try:
                structures.append(structure_from_ase_dict(row["structure"]))
                if labelled:
                    grid = np.asarray(json.loads(row["phfreq"]), dtype=float)
                    if freqs is None:
                        freqs = grid
                    elif grid.shape != freqs.shape or not np.allclose(grid, freqs):
                        raise ValueError("frequency grid differs from the first row")
                    dos.append(np.asarray(json.loads(row["phdos"]), dtype=float))
            except (ValueError, SyntaxError, TypeError, KeyError) as exc:
                raise InputError(f"{path}:{line}", f"malformed row ({exc})") from None
            except InputError as exc:
                raise InputError(f"{path}:{line}", exc.problem) from None
            ids.append(row["mp_id"])
    if not ids:
        raise InputError(str(path), "no rows")
    return PhononDosTable(ids, structures, freqs, np.stack(dos) if labelled else None)


def read_ids(path: str | Path) -> list[str]:
    """One id per line; blank lines and ``#`` comments are skipped. ``path`` may be a pipe (``<(...)``)."""
    from ..io.files import read_text

    ids = [line.split("#")[0].strip() for line in read_text(path, "an id list").splitlines()]
    ids = [i for i in ids if i]
    if not ids:
        raise InputError(str(path), "no ids in file")
    return ids


def build_graphs(structures: list[Structure], cutoff_ang: float, names: list[str],
                 targets: np.ndarray | None = None, progress: bool = True, extra: dict | None = None,
                 pretrained: list[np.ndarray] | None = None, pyg: bool = True) -> list:
    """Periodic graphs for many structures, with a progress bar.

    Args:
        extra: graph-field key -> (n_structures, n) array, stored as (1, n) per graph.
        pretrained: per-structure (num_atoms, d) frozen features, stored as ``keys.NODE_PRETRAINED``, or
            per structure a dict of such fields (:func:`fine_tuning_fields`).
        pyg: PyG ``Data`` graphs (for PyG's loaders: training); False: :class:`~equispec.data.graphs.Graph`
            dicts, which the predictors batch themselves without importing PyG.
    """
    import torch

    iterator = tqdm(range(len(structures)), desc="graphs", disable=not progress, leave=False)
    graphs = []
    for i in iterator:
        graph = structure_to_graph(structures[i], cutoff_ang, names[i], None if targets is None else targets[i],
                                   pyg=False)
        graph[keys.STRUCTURE_ID] = names[i]
        for key, values in (extra or {}).items():
            graph[key] = torch.as_tensor(values[i], dtype=torch.get_default_dtype()).reshape(1, -1)
        if pretrained is not None and isinstance(pretrained[i], dict):
            for key, value in pretrained[i].items():
                graph[key] = torch.as_tensor(value, dtype=torch.get_default_dtype()) \
                    if key == keys.NODE_PRETRAINED else torch.as_tensor(value)
        elif pretrained is not None:
            graph[keys.NODE_PRETRAINED] = torch.as_tensor(pretrained[i], dtype=torch.get_default_dtype())
        graphs.append(graph.to_pyg() if pyg else graph)
    return graphs


def structure_sha256(structure: Structure) -> str:
    """Hash of what a structure's features depend on: atomic numbers, lattice (Å) and fractional coordinates,
    rounded to 1e-8 (so that -0.0 and 0.0, or a re-read CSV, give the same hash)."""
    import hashlib

    digest = hashlib.sha256()
    digest.update(np.asarray(structure.atomic_numbers, dtype=np.int64).tobytes())
    for array in (structure.lattice.matrix, structure.frac_coords):
        digest.update((np.round(np.asarray(array, dtype=np.float64), 8) + 0.0).tobytes())
    return digest.hexdigest()
