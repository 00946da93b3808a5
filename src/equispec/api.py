"""Python API: ``load_model(name_or_dir).predict(structures)`` returns results holding pymatgen objects."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from pymatgen.core import Element, Structure
from pymatgen.phonon.dos import PhononDos
from torch_geometric.loader import DataLoader
from tqdm.auto import tqdm

from .data import keys
from .data.datasets import build_graphs, pretrained_features, read_ids, read_phdos_csv
from .data.structures import StructureLike, to_structure
from .errors import InputError, ModelError
from .io.checkpoint import load_model_dir
from .io.units import CM1_PER_THZ
from .metrics import spectrum_metrics

__all__ = ["PRETRAINED", "load_model", "resolve_model_dir", "PhononDosPrediction", "PhononDosPredictor"]

#: Shipped models: name -> folder under ``checkpoints/``.
PRETRAINED = {"phdos": "phdos"}


def _checkpoint_roots() -> list[Path]:
    roots = [Path(str(resources.files("equispec"))) / "checkpoints"]  # installed wheel
    roots.append(Path(__file__).resolve().parents[2] / "checkpoints")  # source checkout / editable install
    return roots


def resolve_model_dir(name_or_dir: str | os.PathLike) -> Path:
    """A shipped model name (see ``PRETRAINED``) or a path to a model directory."""
    text = str(name_or_dir)
    if text in PRETRAINED:
        for root in _checkpoint_roots():
            candidate = root / PRETRAINED[text]
            if (candidate / "model.json").is_file():
                return candidate
        raise ModelError(text, "shipped model files are missing from this installation")
    path = Path(text)
    if path.is_dir():
        return path
    raise ModelError(text, f"unknown model (shipped: {', '.join(sorted(PRETRAINED))}; or give a model directory)")


def load_model(name_or_dir: str | os.PathLike = "phdos", device: str | torch.device = "cpu"):
    """Load a shipped model by name or a trained model directory and wrap it in a predictor."""
    directory = resolve_model_dir(name_or_dir)
    model, info = load_model_dir(directory)
    if "freq_cm1" not in info:
        raise ModelError(str(directory), "model.json has no freq_cm1 grid: not a phonon-DOS model")
    return PhononDosPredictor(model.to(device), info, name=str(name_or_dir))


@dataclass
class PhononDosPrediction:
    """Predicted phonon DOS of one structure.

    Attributes:
        name: file name or formula of the input.
        structure: the structure that was predicted.
        freq_cm1: (n_bins,) frequency grid in cm^-1.
        dos: (n_bins,) total DOS, max-normalised like the training data.
        partial_dos: element symbol -> (n_bins,) contribution of that element; they add up to ``dos``.
    """

    name: str
    structure: Structure
    freq_cm1: np.ndarray
    dos: np.ndarray
    partial_dos: dict = field(default_factory=dict)

    @property
    def phonon_dos(self) -> PhononDos:
        """pymatgen ``PhononDos`` (frequencies in THz; densities max-normalised, not states/THz)."""
        return PhononDos(self.freq_cm1 / CM1_PER_THZ, self.dos)

    def to_dict(self) -> dict:
        return {"name": self.name, "formula": self.structure.composition.reduced_formula,
                "freq_cm1": self.freq_cm1.tolist(), "dos": self.dos.tolist(),
                "partial_dos": {el: v.tolist() for el, v in self.partial_dos.items()}}


class PhononDosPredictor:
    """A loaded phonon-DOS model with the grid, element list and cutoff it was trained with."""

    def __init__(self, model: torch.nn.Module, info: dict, name: str = "model"):
        self.model = model.eval()
        self.info = info
        self.name = name
        self.freq_cm1 = np.asarray(info["freq_cm1"], dtype=float)
        self.elements = list(info.get("elements", []))
        self.cutoff_ang = float(info["hyperparameters"]["cutoff_ang"])

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def check_elements(self, structure: Structure, name: str) -> None:
        known = set(self.elements)
        unknown = sorted({el.symbol for el in structure.composition.elements} - known,
                         key=lambda s: Element(s).Z)
        if unknown:
            raise InputError(name, f"element {unknown[0]} is not among the {len(known)} elements that model "
                                   f"'{self.name}' was trained on")

    def check(self, obj: StructureLike, name: str | None = None) -> tuple[Structure, str]:
        """Read and check one input against this model; raises ``InputError`` naming the input."""
        structure, label = to_structure(obj, name)
        self.check_elements(structure, label)
        return structure, label

    def graphs(self, structures: list[Structure], labels: list[str], progress: bool = False) -> list:
        """The model's graphs for checked structures (with pretrained features where the model uses them)."""
        pretrained = self.info["hyperparameters"].get("pretrained")
        features = pretrained_features(structures, pretrained, progress=progress) if pretrained else None
        return build_graphs(structures, self.cutoff_ang, labels, progress=progress, pretrained=features)

    @torch.no_grad()
    def predict_graphs(self, graphs: list, batch_size: int = 64, progress: bool = False):
        """Run the model on pre-built graphs. Returns (n, n_bins) total DOS and a list of per-atom arrays."""
        totals, per_atom = [], []
        loader = DataLoader(graphs, batch_size=batch_size, shuffle=False)
        dtype = next(self.model.parameters()).dtype
        for batch in tqdm(loader, desc="predict", disable=not progress, leave=False):
            batch = batch.to(self.device)
            for key in (keys.POSITIONS, keys.CELL, keys.EDGE_CELL_SHIFT, keys.NODE_PRETRAINED):
                if key in batch:
                    batch[key] = batch[key].to(dtype)
            out = self.model(batch)
            totals.append(out[keys.GRAPH_OUTPUT].cpu().numpy())
            nodes = out[keys.NODE_OUTPUT].cpu().numpy()
            splits = np.cumsum(np.bincount(batch[keys.BATCH].cpu().numpy(), minlength=batch.num_graphs))[:-1]
            per_atom.extend(np.split(nodes, splits))
        return np.concatenate(totals).astype(float), per_atom

    def predict(self, structures, names: list[str] | None = None, batch_size: int = 64,
                progress: bool = False) -> list[PhononDosPrediction]:
        """Predict the DOS of structures (paths, ``Structure`` or ``Atoms``), batched.

        All inputs are checked before anything is predicted, so one bad input fails the call early.
        """
        if isinstance(structures, (str, os.PathLike, Structure)) or type(structures).__name__ == "Atoms":
            structures = [structures]
        names = names or [None] * len(structures)
        checked, labels = zip(*(self.check(obj, name) for obj, name in zip(structures, names)))
        totals, per_atom = self.predict_graphs(self.graphs(list(checked), list(labels), progress), batch_size, progress)
        results = []
        for label, structure, total, atoms in zip(labels, checked, totals, per_atom):
            partial = {}
            for site, contribution in zip(structure, atoms):
                symbol = site.specie.symbol
                partial[symbol] = partial.get(symbol, 0.0) + contribution.astype(float)
            results.append(PhononDosPrediction(label, structure, self.freq_cm1.copy(), total, partial))
        return results

    def evaluate(self, csv_path: str | os.PathLike, ids_path: str | os.PathLike | None = None,
                 batch_size: int = 64, progress: bool = False) -> tuple[dict, list[str], np.ndarray]:
        """Score on a labelled CSV (optionally restricted to an id list). Returns (metrics, ids, predictions)."""
        table = read_phdos_csv(csv_path)
        if table.dos is None:
            raise InputError(str(csv_path), "has no phfreq/phdos columns: nothing to score against")
        if not np.allclose(table.freq_cm1, self.freq_cm1):
            raise InputError(str(csv_path), "frequency grid differs from the model's")
        if ids_path is not None:
            table = table.subset(read_ids(ids_path), str(ids_path))
        labels = [f"{csv_path}: {mp_id}" for mp_id in table.ids]
        for structure, label in zip(table.structures, labels):
            self.check_elements(structure, label)
        predictions, _ = self.predict_graphs(self.graphs(table.structures, labels, progress), batch_size, progress)
        return spectrum_metrics(self.freq_cm1, table.dos, predictions), table.ids, predictions
