"""What every predictor shares: the model, its ``ModelInfo``, input checks and forward-only batches."""

from __future__ import annotations

import os

import numpy as np
import torch
from pymatgen.core import Element, Structure
from tqdm.auto import tqdm

from .. import keys
from ..data.graphs import collate
from ..data.structures import (StructureLike, check_graph_size, check_neighbours, default_memory_budget,
                               to_structure)
from ..errors import InputError
from ..models.model_info import ModelInfo
from ..nn.pretrained import first_trainable_block, pretrained_features
from ..nn.pretrained.table import FEATURES

__all__ = ["Predictor"]


class Predictor:
    """A loaded model with the element list and cutoff it was trained with: checks inputs, runs batches.

    Subclasses (one per ``task``) build the task's graphs and turn model outputs into results:
    ``graphs(structures, labels) -> list[Graph]`` and ``_predict_checked(structures, labels, batch_size)``.
    """

    task: str = ""
    mode = "fast"  # PhononDosPredictor also has "physics" and "hybrid", which take seconds per structure
    #: memory budget of :meth:`check_size` in bytes (the CLI's ``--max-memory``); None: the machine's default
    max_memory_bytes: float | None = None

    def __init__(self, model: torch.nn.Module | None, info: ModelInfo | dict, name: str = "model",
                 device: str = "cpu"):
        self.model = model.eval() if model is not None else None  # None: a mode that runs no network
        self._device = torch.device(device)
        self.info = info if isinstance(info, ModelInfo) else ModelInfo.from_dict(info)
        self.name = name
        self.elements = list(self.info.elements)
        self.cutoff_ang = self.info.cutoff_ang

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device if self.model is not None else self._device

    def check_elements(self, structure: Structure, name: str) -> None:
        known = set(self.elements)
        unknown = sorted({el.symbol for el in structure.composition.elements} - known,
                         key=lambda s: Element(s).Z)
        if unknown:
            raise InputError(name, f"element {unknown[0]} is not among the {len(known)} elements that model "
                                   f"'{self.name}' was trained on")

    def check_size(self, structure: Structure, name: str) -> None:
        """The structure's graph at the largest cutoff this model uses (its featurizer's) fits the edge
        ceiling and ``max_memory_bytes``: checked before any graph at that cutoff is built."""
        features = FEATURES.get(self.info.pretrained)
        cutoff = max(self.cutoff_ang, features.cutoff_ang if features else 0.0)
        budget = self.max_memory_bytes if self.max_memory_bytes is not None else default_memory_budget()
        check_graph_size(structure, cutoff, name, budget)

    def check(self, obj: StructureLike, name: str | None = None) -> tuple[Structure, str]:
        """Read and check one input against this model; raises ``InputError`` naming the input."""
        structure, label = to_structure(obj, name)
        self.check_elements(structure, label)
        self.check_size(structure, label)
        check_neighbours(structure, self.cutoff_ang, label)
        return structure, label

    def features(self, structures: list[Structure], progress: bool = False, ids: list[str] | None = None,
                 feature_cache: str | os.PathLike | None = None) -> list | None:
        """Pretrained per-atom features where the model uses them (``feature_cache``: see
        :func:`~equispec.data.datasets.pretrained_features`, keyed by ``ids``)."""
        if not self.info.pretrained:
            return None
        return pretrained_features(structures, self.info.pretrained, ids, feature_cache, progress=progress,
                                   device=str(self.device),
                                   first_trainable_block=first_trainable_block(self.info.hyperparameters))

    @torch.no_grad()
    def _batches(self, graphs: list, batch_size: int, progress: bool, run=None):
        """Yield ``(batch, run(batch))`` over pre-built graphs (PyG ``Data`` or ``Graph``, a list or a
        ``GraphStore``), in order; ``run`` defaults to the whole model. Batches are plain dicts of tensors
        (:func:`~equispec.data.graphs.collate`: PyG's batching without PyG's ~0.5 s import)."""
        run = run or self.model
        dtype = next(self.model.parameters()).dtype
        device = self.device
        starts = range(0, len(graphs), batch_size)
        for start in tqdm(starts, desc="predict", disable=not progress, leave=False):
            batch = collate([graphs[k] for k in range(start, min(start + batch_size, len(graphs)))])
            batch = {key: value.to(device) if isinstance(value, torch.Tensor) else value
                     for key, value in batch.items()}
            for key in (keys.POSITIONS, keys.CELL, keys.EDGE_CELL_SHIFT, keys.NODE_PRETRAINED, keys.SITE_WEIGHT):
                if key in batch:
                    batch[key] = batch[key].to(dtype)
            yield batch, run(batch)

    @staticmethod
    def _as_list(structures, names):
        if isinstance(structures, (str, os.PathLike, Structure)) or type(structures).__name__ == "Atoms":
            structures = [structures]
        return structures, names or [None] * len(structures)

    def predict(self, structures, names: list[str] | None = None, batch_size: int = 64, progress: bool = False):
        """Predict structures (paths, ``Structure`` or ``Atoms``), batched; returns a list of predictions.

        All inputs are checked before anything is predicted, so one bad input fails the call early.
        """
        return list(self.predict_stream(structures, names, batch_size, progress))

    def predict_stream(self, structures, names: list[str] | None = None, batch_size: int = 64,
                       progress: bool = False, chunk_size: int = 512):
        """Like ``predict``, but yields each prediction as soon as its chunk of ``chunk_size`` structures is
        done (featurized, graphed, predicted), with a progress bar and ETA over all structures. Inputs are
        still all checked first, so that a bad file fails before the first result is handed out."""
        structures, names = self._as_list(structures, names)
        if self.mode != "fast":
            chunk_size = 1  # seconds per structure: stream and count each one
        checked, labels = [], []
        for obj, name in tqdm(list(zip(structures, names)), desc="read", unit="structure", leave=False,
                              disable=not progress):
            structure, label = self.check(obj, name)
            checked.append(structure)
            labels.append(label)
        bar = tqdm(total=len(checked), desc="predict", unit="structure", disable=not progress)
        with bar:
            for predictions, done in self._predicted_chunks(checked, labels, batch_size, chunk_size):
                yield from predictions
                bar.update(done)

    def _predicted_chunks(self, checked: list[Structure], labels: list[str], batch_size: int, chunk_size: int):
        """The predictions of checked inputs, in their order: (list of predictions, number of inputs they are
        of) per chunk of ``chunk_size`` inputs."""
        for start in range(0, len(checked), chunk_size):
            chunk = slice(start, start + chunk_size)
            yield self._predict_checked(checked[chunk], labels[chunk], batch_size), len(checked[chunk])

    def graphs(self, structures: list[Structure], labels: list[str], progress: bool = False) -> list:
        raise NotImplementedError

    def _predict_checked(self, structures: list[Structure], labels: list[str], batch_size: int) -> list:
        raise NotImplementedError


def grid_matches(grid: np.ndarray, model_grid: np.ndarray) -> bool:
    return len(grid) == len(model_grid) and np.allclose(grid, model_grid)
