"""A look-up "predictor" that returns the FEFF spectra of a site-spectrum data set.

It answers ``predict(structure)`` like the XAS model (``.site_spectra``, ``.average``, ``.multiplicities``)
by finding the structure in the data set (pymatgen ``StructureMatcher`` among materials of the same
reduced formula). It is the baseline against which a model's ``identify`` results can be judged (how well
does the reference calculation itself identify a measured sample?) and lets the comparison layer be
tested on real measured spectra without a trained model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pymatgen.core import Structure

from ..data.structures import to_structure
from ..data.absorbers import equivalent_atoms, site_average
from ..data.xas import read_xas_dataset
from ..errors import InputError

if TYPE_CHECKING:
    from pymatgen.analysis.xas.spectrum import XAS

__all__ = ["ReferenceXasPrediction", "ReferenceXasPredictor", "site_multiplicities"]


@dataclass
class ReferenceXasPrediction:
    """Spectra of one material from the data set, in the XAS model's result layout.

    Attributes:
        name: input label. material_id: the matched data-set entry. structure: the data set's structure.
        site_spectra: one pymatgen ``XAS`` per symmetry-inequivalent absorbing site with a spectrum.
        multiplicities: number of equivalent sites of each.
        average: multiplicity-weighted mean ``XAS``.
        edge_step: the edge step in the spectra's unit when the data set records it (OmniXAS: FEFF's
            ``xsedge`` / a0^2, multiplicity-weighted), so that ``compare`` can put the prediction on a
            unit-edge-step scale; None otherwise.
    """

    name: str
    material_id: str
    structure: Structure
    site_spectra: list
    multiplicities: list
    average: XAS
    edge_step: float | None = None


def site_multiplicities(structure: Structure, site_indices) -> list[int]:
    """How many sites of ``structure`` are symmetry-equivalent to each of ``site_indices``."""
    orbits = equivalent_atoms(structure)
    return [int(np.sum(orbits == orbits[i])) for i in site_indices]


class ReferenceXasPredictor:
    """Look up FEFF spectra in a site-spectrum folder (``read_xas_dataset`` layouts).

    Args:
        folder: the data set folder (e.g. ``../shared/data/xas/omnixas_cu_feff``).
        name: label of this "model".
    """

    task = "xas"

    def __init__(self, folder: str | os.PathLike, name: str = "feff-reference"):
        self.dataset = read_xas_dataset(folder)
        self.name = name
        # OmniXAS: xsedge / a0^2 per spectrum (it varies by about 2 % between Cu sites)
        self._edge_step = self.dataset.edge_step if self.dataset.edge_step is not None \
            else np.full(len(self.dataset.material_id), np.nan)
        has_spectrum = np.isfinite(self.dataset.spectrum).all(axis=1)
        self._rows: dict[str, list[int]] = {}
        for row in np.flatnonzero(has_spectrum):
            self._rows.setdefault(str(self.dataset.material_id[row]), []).append(int(row))
        self._by_formula: dict[str, list[str]] = {}
        for material_id in self._rows:
            formula = self.dataset.structure(material_id).composition.reduced_formula
            self._by_formula.setdefault(formula, []).append(material_id)

    def match(self, structure: Structure, label: str) -> str:
        """The data-set material id of ``structure``; ``InputError`` when it has no spectra there."""
        from pymatgen.analysis.structure_matcher import StructureMatcher

        matcher = StructureMatcher()
        for material_id in self._by_formula.get(structure.composition.reduced_formula, []):
            if matcher.fit(structure, self.dataset.structure(material_id)):
                return material_id
        raise InputError(label, f"structure not found among the spectra of {self.dataset.source}")

    def predict(self, structure_like, name: str | None = None) -> ReferenceXasPrediction:
        from pymatgen.analysis.xas.spectrum import XAS  # imported on use, like the XAS predictor's

        structure, label = to_structure(structure_like, name)
        material_id = self.match(structure, label)
        rows = self._rows[material_id]
        reference = self.dataset.structure(material_id)
        sites = [int(self.dataset.site_index[r]) for r in rows]
        multiplicities = site_multiplicities(reference, sites)
        grid = self.dataset.energy_ev
        element, edge = str(self.dataset.absorbing_element[rows[0]]), str(self.dataset.edge[rows[0]])
        spectra = [XAS(grid.copy(), self.dataset.spectrum[r].copy(), reference, element, edge=edge, absorbing_index=i)
                   for r, i in zip(rows, sites)]
        mean = site_average([s.y for s in spectra], multiplicities)
        average = XAS(grid.copy(), mean, reference, element, edge=edge)
        steps = self._edge_step[rows]
        edge_step = float(site_average(steps, multiplicities)) if np.isfinite(steps).all() else None
        return ReferenceXasPrediction(label, material_id, reference, spectra, multiplicities, average, edge_step)
