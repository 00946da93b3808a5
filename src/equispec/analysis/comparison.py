"""Every comparison result follows one protocol, :class:`ComparisonResult`: the XAS and phonon-DOS
:class:`Comparison` here, the powder S(|Q|, E) ``analysis.sqe.SqeComparison``, and any later kind."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .energy_scale import EnergyScaleFit, energy_scale_phrase
from .scores import SCORE_KEYS

__all__ = ["ComparisonResult", "Comparison", "is_xas"]

#: Fewest points of the common grid a comparison may rest on.
_MIN_OVERLAP_POINTS = 10


class ComparisonResult(ABC):
    """One prediction scored against one measurement, whatever was measured.

    An abstract base class rather than a ``typing.Protocol``: the kinds share real code (``from_dict``
    dispatch on ``kind``, array-aware equality, the energy-scale record), ``from_dict`` must find the class
    of a ``kind`` (subclasses register themselves), and a missing method fails when the class is made,
    not when a CLI run reaches it.

    Attributes every kind has:
        kind: what was compared (``xas``, ``phdos``, ``sqe``); selects the figure and the record.
        name: the prediction (structure file or formula); measured_name: the measurement (file).
        scores: the kind's scores, JSON-ready floats.
        details: the settings applied (resolution, shifts, temperature, ...) and notes, JSON-ready. Named
            ``details`` (not ``settings``) because both kinds and their JSON records already call it that.
        energy_unit: unit of the energy axis.
        energy_scale: the fitted stiffness factor (``fit_energy_scale``), or None.

    Methods: :meth:`to_dict` (the record ``compare --json`` prints; ``arrays=True`` adds the arrays under
    ``"arrays"``), :meth:`from_dict` (rebuilds the result from ``to_dict(arrays=True)``),
    :meth:`summary_line` (the human line), :meth:`notes` (what a terminal shows before it), :meth:`arrays`
    (what a figure draws) and ``residual``.
    """

    #: The ``kind`` values a subclass stands for; ``from_dict`` looks them up here.
    kinds: ClassVar[tuple[str, ...]] = ()
    _registry: ClassVar[dict[str, type[ComparisonResult]]] = {}

    kind: str
    name: str
    measured_name: str
    scores: dict
    details: dict
    energy_unit: str
    energy_scale: EnergyScaleFit | None
    measured: np.ndarray
    predicted: np.ndarray

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for kind in cls.__dict__.get("kinds", ()):
            ComparisonResult._registry[kind] = cls

    @property
    def residual(self) -> np.ndarray:
        """Measured minus predicted, on the measured points."""
        return self.measured - self.predicted

    def to_dict(self, arrays: bool = False) -> dict:
        """The JSON record of the scores and what was compared, then the fitted energy scale if any; with
        ``arrays`` also :meth:`arrays` (and the energy-scale prediction) under ``"arrays"``, NaN as null, which
        :meth:`from_dict` needs."""
        out = self._record()
        if self.energy_scale is not None:
            out.update(self.energy_scale.to_dict())
        if arrays:
            out["arrays"] = self._arrays_record()
        return out

    @abstractmethod
    def _record(self) -> dict:
        """The kind's own part of :meth:`to_dict`: its scores and what was compared."""

    @abstractmethod
    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays a figure of the comparison draws (the residual is derived from them)."""

    @abstractmethod
    def summary_line(self) -> str:
        """One human line: the prediction and its scores."""

    def notes(self) -> list[str]:
        """Lines a terminal prints (to stderr) before the summary line: notes and settings worth seeing."""
        return [note for note in (self.details.get("note"), self.details.get("resolution_note")) if note]

    @classmethod
    def from_dict(cls, d: dict) -> ComparisonResult:
        """Rebuild a result from ``to_dict(arrays=True)`` (or its JSON), as the class of ``d["kind"]``."""
        target = ComparisonResult._registry.get(d.get("kind"))
        if target is None:
            raise ValueError(f"{cls.__name__}.from_dict: unknown comparison kind {d.get('kind')!r}")
        if not issubclass(target, cls):
            raise ValueError(f"{cls.__name__}.from_dict: a {d['kind']!r} record is a {target.__name__}")
        if "arrays" not in d:
            raise ValueError(f"{cls.__name__}.from_dict needs the arrays: give it to_dict(arrays=True)")
        return target._from_dict(d)

    @classmethod
    @abstractmethod
    def _from_dict(cls, d: dict) -> ComparisonResult:
        """The kind's own rebuilding, ``d`` checked by :meth:`from_dict`."""

    def _arrays_record(self) -> dict:
        """:meth:`arrays` and the energy-scale prediction as JSON lists, NaN as null."""
        out = {key: _json_array(value) for key, value in self.arrays().items()}
        if self.energy_scale is not None and self.energy_scale.predicted is not None:
            out["energy_scale_predicted"] = _json_array(self.energy_scale.predicted)
        return out

    @classmethod
    def _energy_scale_from(cls, d: dict) -> EnergyScaleFit | None:
        """The :class:`EnergyScaleFit` of a record (its details are ``details["energy_scale_fit"]``)."""
        if "energy_scale" not in d:
            return None
        predicted = d["arrays"].get("energy_scale_predicted")
        return EnergyScaleFit(d["energy_scale"], d["energy_scale_error"], tuple(d["energy_scale_bounds"]),
                              dict(d["scores_at_energy_scale"]), d["details"].get("energy_scale_fit", {}),
                              None if predicted is None else _array(predicted))

    def __eq__(self, other) -> bool:
        """Same kind of result with the same values, arrays compared element by element (NaN equal to NaN)."""
        if type(other) is not type(self):
            return NotImplemented
        return _same(self, other)

    __hash__ = None


@dataclass(eq=False)
class Comparison(ComparisonResult):
    """One predicted spectrum (XAS or phonon DOS) scored against one measured spectrum.

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

    kinds: ClassVar[tuple[str, ...]] = ("xas", "phdos")

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

    def _record(self) -> dict:
        """Scores (plus ``shift_ev`` for XAS) and what was compared."""
        out = {key: self.scores[key] for key in SCORE_KEYS}
        if self.kind == "xas":
            out["shift_ev"] = self.shift_ev
        e_min, e_max = self.details.get("measured_unit_range", [float(self.grid[0]), float(self.grid[-1])])
        out.update({"kind": self.kind, "structure": self.name, "measured": self.measured_name,
                    "energy_unit": self.energy_unit, "e_min": e_min, "e_max": e_max, "details": self.details})
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        return {"grid": self.grid, "measured": self.measured, "predicted": self.predicted}

    @classmethod
    def _from_dict(cls, d: dict) -> Comparison:
        a = d["arrays"]
        return cls(d["kind"], d["structure"], d["measured"], d["energy_unit"], _array(a["grid"]),
                   _array(a["measured"]), _array(a["predicted"]), {key: d[key] for key in SCORE_KEYS},
                   d.get("shift_ev"), d["details"], cls._energy_scale_from(d))

    def summary_line(self) -> str:
        """The prediction, its scores and (XAS) the fitted shift."""
        s = self.scores
        text = (f"{self.name}: mse {s['mse']:.4g}, cosine {s['cosine']:.4f}, pearson {s['pearson']:.4f}, "
                f"spearman {s['spearman']:.4f}, wasserstein {s['wasserstein']:.3g} {self.energy_unit}")
        if self.shift_ev is not None:
            text += f", shift {self.shift_ev:+.2f} eV"
        if self.energy_scale is not None:
            text += "; " + energy_scale_phrase(self.energy_scale, {"mse": ".4g", "cosine": ".4f", "pearson": ".4f",
                                                                   "spearman": ".4f", "wasserstein": ".3g"})
        return text


def _json_array(values) -> list:
    """A float array as nested lists, NaN as None (JSON null)."""
    values = np.asarray(values, float)
    out = values.astype(object)
    out[np.isnan(values)] = None
    return out.tolist()


def _array(values) -> np.ndarray:
    """Nested lists (None for NaN) back to a float array."""
    return np.array(values, dtype=float)


def _same(a, b) -> bool:
    """Equal values: dataclasses field by field, mappings key by key, arrays and lists element by element
    (a tuple equals the list JSON makes of it), NaN equal to NaN."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(_same(getattr(a, f.name), getattr(b, f.name))
                                          for f in dataclasses.fields(a))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple, np.ndarray)):
        if not isinstance(b, (list, tuple, np.ndarray)):
            return False
        try:
            x, y = np.asarray(a), np.asarray(b)
        except ValueError:  # ragged
            x = y = None
        if x is not None and x.dtype.kind in "biuf" and y.dtype.kind in "biuf":
            return x.shape == y.shape and bool(np.array_equal(x, y, equal_nan=True))
        return len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b))
    if isinstance(a, (float, np.floating)) and isinstance(b, (float, np.floating)) and np.isnan(a) and np.isnan(b):
        return True
    return bool(a == b)


def is_xas(prediction) -> bool:
    """Whether a prediction (or spectrum) is an XAS one: has ``.average`` or is a pymatgen ``XAS``."""
    return hasattr(prediction, "average") or hasattr(prediction, "absorbing_element")


def _prediction_name(prediction) -> str:
    name = getattr(prediction, "name", None)
    if name:
        return str(name)
    structure = getattr(prediction, "structure", None)
    return structure.composition.reduced_formula if structure is not None else "prediction"
