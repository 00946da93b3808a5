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
from ..io.files import atomic_savez
from .. import keys
from .graphs import structure_to_graph
from .structures import structure_from_ase_dict

__all__ = ["PhononDosTable", "read_phdos_csv", "read_ids", "build_graphs", "pretrained_features",
           "feature_cache_key", "structure_sha256", "fine_tuning_fields"]


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


def feature_cache_key(record: dict, structure: Structure, material_id: str) -> str:
    """Feature-cache key: the featurizer (name, sevenn version, weights hash), the structure's hash and its id.
    Any change of potential, package or geometry gives a new key, so stale features are never reused."""
    return "/".join([record["name"], record["sevenn_version"], record["weights_sha256"][:16],
                     structure_sha256(structure)[:16], material_id])


def fine_tuning_fields(inputs) -> dict[str, np.ndarray]:
    """Graph fields of one structure's :class:`equispec.nn.sevennet.BlockInputs`: what
    ``TrainableSevenNetBlocks`` reads, and the frozen features as ``keys.NODE_PRETRAINED``."""
    graph = inputs.graph
    n = graph.num_atoms
    return {
        keys.NODE_PRETRAINED: inputs.scalars,
        keys.SEVENNET_NODE_INPUT: inputs.node_input,
        keys.SEVENNET_MIRROR_INPUT: inputs.mirror_input if inputs.mirror_input is not None
        else np.zeros_like(inputs.node_input),
        keys.SEVENNET_INVERSION_INDEX: graph.inversion if graph.inversion is not None else np.arange(n),
        keys.SEVENNET_EDGE_INDEX: graph.edge_index,
        keys.SEVENNET_EDGE_VECTORS: graph.edge_vectors.astype(np.float32),
        keys.SEVENNET_CENTROSYMMETRIC: np.array([graph.inversion is not None]),
    }


def _stored_arrays(path: Path | None) -> dict[str, np.ndarray]:
    """Every array of a feature cache ``.npz`` (no pickle), or nothing when there is no such file."""
    if path is None or not path.is_file():
        return {}
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def _block_input_cache(cache: Path, first_block: int) -> Path:
    return cache.with_name(f"{cache.stem}-block{first_block}.npz")


def _fine_tuning_inputs(structures: list[Structure], featurizer, labels: list[str], keys_: list,
                        cache: Path | None, first_block: int, progress: bool, chunk_size: int) -> list[dict]:
    """:func:`fine_tuning_fields` per structure; the block inputs and frozen features are kept in
    ``{cache stem}-block{b}.npz`` (the SevenNet graphs are rebuilt, cheaply)."""
    from ..nn.sevennet import BlockInputs

    block_cache = _block_input_cache(cache, first_block) if cache is not None else None
    stored = _stored_arrays(block_cache)
    fields: list = [None] * len(structures)
    missing = []
    for k, key in enumerate(keys_):
        if key is not None and f"{key}/scalars" in stored and len(stored[f"{key}/scalars"]) == len(structures[k]):
            graph = featurizer.blocks.graph(structures[k], labels[k])
            mirror = stored.get(f"{key}/mirror_input")
            fields[k] = fine_tuning_fields(BlockInputs(stored[f"{key}/scalars"], stored[f"{key}/node_input"],
                                                       mirror, graph))
        else:
            missing.append(k)
    with tqdm(total=len(missing), desc=f"{featurizer.name} block inputs", disable=not progress or not missing,
              leave=False) as bar:
        for start in range(0, len(missing), chunk_size):
            part = missing[start:start + chunk_size]
            graphs = [featurizer.blocks.graph(structures[k], labels[k]) for k in part]
            for k, inputs in zip(part, featurizer.blocks.block_inputs(graphs, first_block)):
                fields[k] = fine_tuning_fields(inputs)
                if keys_[k] is not None:
                    stored[f"{keys_[k]}/scalars"] = inputs.scalars
                    stored[f"{keys_[k]}/node_input"] = inputs.node_input
                    if inputs.mirror_input is not None:
                        stored[f"{keys_[k]}/mirror_input"] = inputs.mirror_input
            bar.update(len(part))
    if block_cache is not None and missing:
        block_cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_savez(block_cache, stored)
    return fields


def pretrained_features(structures: list[Structure], name: str, ids: list[str] | None = None,
                        cache: str | Path | None = None, progress: bool = True, device: str = "cpu",
                        chunk_size: int = 256, first_trainable_block: int | None = None) -> list:
    """Frozen per-atom features of the pretrained potential ``name`` for each structure, batched.

    With ``cache`` (an ``.npz`` of key -> array, read with ``allow_pickle=False``; keys from
    :func:`feature_cache_key`) features computed before are reused and new ones are added, so that repeated
    training runs featurize once. ``device``: where the potential runs; ``chunk_size``: structures per call
    of the featurizer (it splits them further by edges).

    With ``first_trainable_block`` (a model that fine-tunes the blocks from there on) the result is, per
    structure, the dict of graph fields of :func:`fine_tuning_fields` instead: the frozen blocks run once
    here, their output entering the first trainable block is cached in ``{cache stem}-block{b}.npz``.
    """
    from .pretrained import get_featurizer

    featurizer = get_featurizer(name, str(device))
    cache = Path(cache) if cache else None
    labels = list(ids) if ids is not None else [f"structure {k}" for k in range(len(structures))]
    keys_ = [feature_cache_key(featurizer.record, s, i) for s, i in zip(structures, ids)] if ids is not None \
        else [None] * len(structures)
    if first_trainable_block is not None:
        return _fine_tuning_inputs(structures, featurizer, labels, keys_, cache, first_trainable_block, progress,
                                   chunk_size)
    stored = _stored_arrays(cache)
    features: list = [stored.get(key) if key is not None else None for key in keys_]
    missing = [k for k, f in enumerate(features) if f is None or len(f) != len(structures[k])]
    with tqdm(total=len(missing), desc=name, disable=not progress or not missing, leave=False) as bar:
        for start in range(0, len(missing), chunk_size):
            part = missing[start:start + chunk_size]
            for k, value in zip(part, featurizer.batch([structures[k] for k in part], [labels[k] for k in part])):
                features[k] = value
                if keys_[k] is not None:
                    stored[keys_[k]] = value
            bar.update(len(part))
    if cache is not None and missing and ids is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_savez(cache, stored)
    return features
