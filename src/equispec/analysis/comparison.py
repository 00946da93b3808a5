"""The result of scoring one prediction against one measurement, shared by the XAS and phonon comparisons."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .energy_scale import EnergyScaleFit
from .scores import SCORE_KEYS

__all__ = ["Comparison", "is_xas"]

#: Fewest points of the common grid a comparison may rest on.
_MIN_OVERLAP_POINTS = 10


@dataclass
class Comparison:
    """One prediction scored against one measurement.

    Attributes:
        kind: ``"xas"`` or ``"phdos"``.
        name: the prediction (structure file or formula).
        measured_name: the measurement (file).
        energy_unit: unit of ``grid`` (``eV`` for XAS, ``meV`` for phonon DOS).
        grid: (n,) common energies on the measurement's scale.
        measured: (n,) processed measurement (XAS: unit edge step; DOS: unit area).
        predicted: (n,) processed prediction, scaled to the measurement.
        scores: ``{mse, cosine, pearson, spearman, wasserstein}`` (Wasserstein in ``energy_unit``).
        shift_ev: rigid shift added to the predicted energies (XAS), else None.
        details: processing parameters used (E0s, widths, scale), for the record.
        energy_scale: phonon DOS with ``fit_energy_scale``: the fitted stiffness factor, its error and the
            scores at it; else None.
    """

    kind: str
    name: str
    measured_name: str
    energy_unit: str
    grid: np.ndarray
    measured: np.ndarray
    predicted: np.ndarray
    scores: dict
    shift_ev: float | None = None
    details: dict = field(default_factory=dict)
    energy_scale: EnergyScaleFit | None = None

    @property
    def residual(self) -> np.ndarray:
        """(n,) measured minus predicted."""
        return self.measured - self.predicted

    def to_dict(self) -> dict:
        """Scores (plus ``shift_ev`` for XAS) and what was compared; JSON-ready."""
        out = {key: self.scores[key] for key in SCORE_KEYS}
        if self.kind == "xas":
            out["shift_ev"] = self.shift_ev
        e_min, e_max = self.details.get("measured_unit_range", [float(self.grid[0]), float(self.grid[-1])])
        out.update({"kind": self.kind, "structure": self.name, "measured": self.measured_name,
                    "energy_unit": self.energy_unit, "e_min": e_min, "e_max": e_max, "details": self.details})
        if self.energy_scale is not None:
            out.update(self.energy_scale.to_dict())
        return out


def is_xas(prediction) -> bool:
    """Whether a prediction (or spectrum) is an XAS one: has ``.average`` or is a pymatgen ``XAS``."""
    return hasattr(prediction, "average") or hasattr(prediction, "absorbing_element")


def _prediction_name(prediction) -> str:
    name = getattr(prediction, "name", None)
    if name:
        return str(name)
    structure = getattr(prediction, "structure", None)
    return structure.composition.reduced_formula if structure is not None else "prediction"
