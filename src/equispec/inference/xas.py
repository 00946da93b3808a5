"""Site-resolved X-ray absorption from structures: one spectrum per symmetry-inequivalent absorber and their
multiplicity-weighted average, as pymatgen ``XAS``; scored on site-spectrum folders (OmniXAS layout)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from pymatgen.core import Structure

from .. import keys
from ..data.structures import StructureLike, check_neighbours, to_structure
from ..data.absorbers import absorbing_sites, site_average
from ..data.xas import read_xas_dataset
from ..data.xas_graphs import site_graphs
from ..errors import InputError
from ..metrics import xas_metrics
from ..models.model_info import ModelInfo
from .base import Predictor, grid_matches

if TYPE_CHECKING:
    from pymatgen.analysis.xas.spectrum import XAS

__all__ = ["XasPrediction", "XasPredictor"]


@dataclass
class XasPrediction:
    """Predicted X-ray absorption of one structure: one spectrum per symmetry-inequivalent absorber.

    Attributes:
        name: file name or formula of the input.
        structure: the structure that was predicted.
        element, edge: absorbing element and edge (e.g. ``"Cu"``, ``"K"``).
        energy_ev: (n,) energies in eV (FEFF's absolute scale for FEFF-trained models).
        site_indices: index in ``structure`` of each inequivalent absorber.
        multiplicities: number of equivalent absorbers each stands for.
        site_mu: (n_sites, n) absorption per inequivalent site, in the training data's units.
        site_mu_std: spread of ensemble members (None for a single model).
        edge_step: typical edge step of the training spectra in their unit (None where the data did not
            record it): dividing by it puts the prediction on the unit edge step of a normalised measurement.
    """

    name: str
    structure: Structure
    element: str
    edge: str
    energy_ev: np.ndarray
    site_indices: list
    multiplicities: list
    site_mu: np.ndarray
    site_mu_std: np.ndarray | None = None
    edge_step: float | None = None

    @property
    def mu(self) -> np.ndarray:
        """The spectrum a measurement sees: the multiplicity-weighted average over absorbing sites."""
        return site_average(self.site_mu, self.multiplicities)

    def _xas(self, mu: np.ndarray, index: int | None) -> XAS:
        from pymatgen.analysis.xas.spectrum import XAS  # imported on use, like PhononDos

        return XAS(self.energy_ev, mu, self.structure, self.element, edge=self.edge, spectrum_type="XANES",
                   absorbing_index=index)

    @property
    def site_spectra(self) -> list[XAS]:
        """pymatgen ``XAS`` per inequivalent absorbing site (``absorbing_index`` set)."""
        return [self._xas(mu, int(i)) for i, mu in zip(self.site_indices, self.site_mu)]

    @property
    def average(self) -> XAS:
        """pymatgen ``XAS`` of the site average (``absorbing_index`` None)."""
        return self._xas(self.mu, None)

    def to_dict(self) -> dict:
        return {"name": self.name, "formula": self.structure.composition.reduced_formula, "element": self.element,
                "edge": self.edge, "energy_ev": self.energy_ev.tolist(), "mu": self.mu.tolist(),
                "sites": [{"site_index": int(i), "multiplicity": int(m), "mu": mu.tolist()}
                          for i, m, mu in zip(self.site_indices, self.multiplicities, self.site_mu)]}


class XasPredictor(Predictor):
    """A loaded site-resolved XAS model: energy grid, the absorbers (element, edge) it was trained on."""

    task = "xas"

    def __init__(self, model: torch.nn.Module, info: ModelInfo | dict, name: str = "model"):
        super().__init__(model, info, name)
        self.energy_ev = self.info.grid.copy()
        absorbers = self.info.absorbers or [{"element": "Cu", "edge": "K"}]
        self.element, self.edge = absorbers[0]["element"], absorbers[0]["edge"]
        mean = self.info.train_mean_spectrum
        self.train_mean_spectrum = np.asarray([] if mean is None else mean, dtype=float)

    def check(self, obj: StructureLike, name: str | None = None) -> tuple[Structure, str]:
        structure, label = to_structure(obj, name)
        self.check_size(structure, label)
        absorbing_sites(structure, self.element, label)  # raises when there is no absorber
        self.check_elements(structure, label)
        check_neighbours(structure, self.cutoff_ang, label)
        return structure, label

    def graphs(self, structures: list[Structure], labels: list[str], progress: bool = False) -> list:
        """Graphs with each structure's inequivalent absorbers marked and weighted by multiplicity."""
        sites = [absorbing_sites(s, self.element, label) for s, label in zip(structures, labels)]
        return site_graphs(structures, labels, [s for s, _ in sites], self.edge, self.cutoff_ang,
                           weights=[m for _, m in sites], pretrained=self.features(structures, progress),
                           progress=progress, pyg=False)

    def predict_site_graphs(self, graphs: list, batch_size: int = 64, progress: bool = False,
                            with_std: bool = False):
        """(n_sites, n) spectra of every absorber of pre-built graphs, in graph and node order
        (and their ensemble spread, or None, with ``with_std``)."""
        sites, spread = [], []
        for _, out in self._batches(graphs, batch_size, progress):
            sites.append(out[keys.SITE_OUTPUT].cpu().numpy())
            if keys.SITE_OUTPUT_STD in out:
                spread.append(out[keys.SITE_OUTPUT_STD].cpu().numpy())
        sites = np.concatenate(sites).astype(float)
        if with_std:
            return sites, np.concatenate(spread).astype(float) if spread else None
        return sites

    def _predict_checked(self, checked: list[Structure], labels: list[str], batch_size: int) -> list[XasPrediction]:
        """Site and average spectra (a structure without the absorbing element fails in ``check``)."""
        graphs = self.graphs(checked, labels)
        sites, spread = self.predict_site_graphs(graphs, batch_size, with_std=True)
        results, start = [], 0
        for label, structure, graph in zip(labels, checked, graphs):
            index = torch.nonzero(graph[keys.ABSORBER_MASK], as_tuple=True)[0]
            weights = graph[keys.SITE_WEIGHT][index]
            stop = start + len(index)
            results.append(XasPrediction(label, structure, self.element, self.edge, self.energy_ev.copy(),
                                         index.tolist(), [int(round(float(w))) for w in weights], sites[start:stop],
                                         None if spread is None else spread[start:stop], self.info.edge_step))
            start = stop
        return results

    def evaluate(self, folder: str | os.PathLike, split: str = "val", batch_size: int = 64,
                 progress: bool = False, feature_cache: str | None = None) -> tuple[dict, object, np.ndarray]:
        """Score on one split of a site-spectrum folder. Returns (metrics, rows scored, site predictions)
        with the rows in the order of the predictions. ``feature_cache`` as in ``pretrained_features``.

        The eta baseline is the mean spectrum of the folder's ``train`` split when it has one (as in
        OmniXAS), else the training mean stored with the model.
        """
        from ..data.xas_graphs import dataset_graphs, graph_row_order

        dataset = read_xas_dataset(folder)
        if not grid_matches(dataset.energy_ev, self.energy_ev):
            raise InputError(str(folder), "energy grid differs from the model's")
        rows = dataset.split_rows(split)
        if np.isnan(rows.spectrum).any():
            raise InputError(str(folder), f"split {split!r} has withheld (NaN) spectra: nothing to score against")
        train = dataset.split == "train"
        train_mean = dataset.spectrum[train].mean(axis=0) if train.any() else self.train_mean_spectrum
        if len(train_mean) != len(self.energy_ev):
            raise InputError(str(folder), "has no train split and the model stores no training mean for eta")
        for material in rows.materials():
            self.check_elements(rows.structure(material), f"{folder}: {material}")
        graphs = dataset_graphs(rows, self.cutoff_ang,
                                lambda structures, ids: self.features(structures, progress, ids, feature_cache),
                                progress)
        predictions = self.predict_site_graphs(graphs, batch_size, progress)
        rows = rows.select(graph_row_order(rows))
        return xas_metrics(rows.spectrum, predictions, train_mean), rows, predictions
