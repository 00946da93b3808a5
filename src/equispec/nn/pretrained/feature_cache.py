"""Per-atom features of a pretrained potential for many structures, kept on disk between runs.

A featurized data set is an ``.npz`` of key -> array (read with ``allow_pickle=False``); each key names the
featurizer (name, sevenn version, weights hash), the structure's hash and its id, so that a change of
potential, package or geometry never reuses stale features.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pymatgen.core import Structure
from tqdm.auto import tqdm

from ... import keys
from ...data.datasets import structure_sha256
from ...io.files import atomic_savez
from .featurizer import get_featurizer
from .blocks import BlockInputs

__all__ = ["feature_cache_key", "fine_tuning_fields", "pretrained_features"]


def feature_cache_key(record: dict, structure: Structure, material_id: str) -> str:
    """Feature-cache key: the featurizer (name, sevenn version, weights hash), the structure's hash and its id.
    Any change of potential, package or geometry gives a new key, so stale features are never reused."""
    return "/".join([record["name"], record["sevenn_version"], record["weights_sha256"][:16],
                     structure_sha256(structure)[:16], material_id])


def fine_tuning_fields(inputs) -> dict[str, np.ndarray]:
    """Graph fields of one structure's :class:`~equispec.nn.pretrained.trainable.BlockInputs`: what
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
