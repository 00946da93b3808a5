"""Compare a predicted spectrum with a measured one, and rank candidate structures against a measurement.

A prediction comes in as pymatgen objects: an XAS prediction has ``.average`` (a pymatgen ``XAS``), a
phonon prediction has ``.freq_cm1``, ``.dos`` and per-element ``.partial_dos`` (``PhononDosPrediction``);
a bare ``XAS`` or ``PhononDos`` works too. Both spectra are processed as an instrument sees them and
scored on one grid in the measurement's energy scale:

- XAS: the measurement is normalised to unit edge step (pre/post-edge lines, E0 at max dmu/dE); the
  prediction is divided by its own edge step when it states one (``edge_step``), else scaled to the
  measurement's area; it can be broadened by a core-hole width (Lorentzian; off by default, as FEFF
  spectra include it) and an experimental resolution (Gaussian), and is shifted rigidly in energy (FEFF
  energies are not calibrated to experiment). ``compare`` fits that shift; ``identify`` uses ONE shift
  for all candidates (given, calibrated on a standard, or fitted to all together), so that chemical
  shifts between candidates stay in the comparison. The whole predicted range that the measurement
  covers is compared unless ``window_ev`` asks for a window from the onset.
- Phonon DOS: the prediction is converted to meV, neutron-weighted (``sigma_scatt/M`` per element on the
  per-element partial DOS), broadened by the instrument resolution and scaled to the measurement's area
  on their common energy range.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar

from ..errors import InputError
from ..io.units import CM1_PER_MEV, MEV_PER_THZ
from .phonon_processing import broaden_dos, neutron_weighted_dos
from .readers import (DOS_UNITS, MeasuredDos, MeasuredSqe, MeasuredXas, is_sqe_file, read_measured_dos,
                      read_measured_sqe, read_measured_xas)
from .scores import HIGHER_IS_BETTER, SCORE_KEYS, cosine, score_spectra
from .xas_processing import core_hole_fwhm_ev, find_e0, gaussian_broaden, lorentzian_broaden, normalize_xas

__all__ = ["Comparison", "compare", "identify", "calibrate_shift", "XAS_SHIFT_MODES", "compare_spectra", "compare_xas", "compare_phdos", "is_xas",
           "candidate_files", "plot_comparison"]

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


# ----------------------------------------------------------------------------------------------- XAS


def _area_scale(measured: np.ndarray, predicted: np.ndarray) -> float:
    total = float(np.sum(predicted))
    return float(np.sum(measured)) / total if total != 0 else 1.0


#: The onset of absorption: where a spectrum first reaches this fraction of its rise (see ``_onset_ev``).
ONSET_FRACTION = 0.05
#: The window starts this far below the onset, to keep the foot of the edge.
ONSET_MARGIN_EV = 5.0


def _onset_ev(energy: np.ndarray, mu: np.ndarray) -> float:
    """Start of a window of given width: ``ONSET_MARGIN_EV`` before mu first rises by ``ONSET_FRACTION`` of
    the way from its first value to its mean over the last tenth, and no earlier than the first energy."""
    base, top = float(mu[0]), float(np.mean(mu[-max(2, len(mu) // 10):]))
    rising = np.flatnonzero(mu - base >= ONSET_FRACTION * (top - base)) if top > base else np.array([0])
    onset = float(energy[rising[0]]) if len(rising) else float(energy[0])
    return max(float(energy[0]), onset - ONSET_MARGIN_EV)


def _edge_step_of(predicted) -> float | None:
    """The edge step of a prediction in its own unit, when it says (``edge_step`` on the prediction or on
    its spectrum): dividing by it puts the prediction on the measurement's unit-edge-step scale."""
    for holder in (predicted, getattr(predicted, "average", None)):
        step = getattr(holder, "edge_step", None)
        if step is not None and np.isfinite(step) and step > 0:
            return float(step)
    return None


class _XasPair:
    """One processed prediction next to one normalised measurement; evaluates any rigid shift."""

    def __init__(self, predicted, measured: MeasuredXas, window_ev, core_hole_ev, resolution_ev, step_ev, name,
                 norm=None):
        spectrum = predicted.average if hasattr(predicted, "average") else predicted
        self.name = name or _prediction_name(predicted)
        self.measured = measured
        element = str(getattr(spectrum, "absorbing_element", "") or "")
        edge = str(getattr(spectrum, "edge", "K") or "K")
        if measured.element and element and measured.element != element:
            raise InputError(measured.name, f"measured {measured.element} {measured.edge or ''} edge cannot be "
                                            f"compared with a predicted {element} {edge} edge")
        if measured.edge and edge and measured.edge.upper() != edge.upper():
            raise InputError(measured.name, f"measured {measured.edge} edge, predicted {edge} edge")
        energy, mu = np.asarray(spectrum.x, float), np.asarray(spectrum.y, float)
        if core_hole_ev is None:
            core_hole_ev = core_hole_fwhm_ev(element, edge) if element else 0.0
        self.core_hole_ev, self.resolution_ev, self.step_ev = core_hole_ev, resolution_ev, step_ev
        self.edge_step = _edge_step_of(predicted)
        grid = np.arange(energy[0], energy[-1] + step_ev / 2, step_ev)
        pred = np.interp(grid, energy, mu)
        pred = lorentzian_broaden(grid, pred, core_hole_ev)
        pred = gaussian_broaden(grid, pred, resolution_ev)
        if self.edge_step is not None:
            pred = pred / self.edge_step
        self.norm = norm if norm is not None else normalize_xas(measured.energy_ev, measured.mu, name=measured.name)
        if window_ev is None:  # the whole predicted range (where the measurement covers it)
            inside = np.ones(len(grid), bool)
        else:
            onset = _onset_ev(grid, pred)
            inside = (grid >= onset - 1e-9) & (grid <= onset + window_ev + 1e-9)
        self.window, self.window_pred = grid[inside], pred[inside]
        self.e0_pred = find_e0(grid, pred)
        self.guess = self.norm.e0_ev - self.e0_pred

    def evaluate(self, shift: float):
        """(inside, measured, predicted, scale) at ``shift``; None when the measurement covers under half
        of the window (or fewer than ``_MIN_OVERLAP_POINTS``)."""
        meas_e = self.norm.energy_ev
        inside = (self.window + shift >= meas_e[0]) & (self.window + shift <= meas_e[-1])
        if inside.sum() < max(_MIN_OVERLAP_POINTS, len(self.window) // 2):
            return None
        m = np.interp(self.window[inside] + shift, meas_e, self.norm.mu)
        p = self.window_pred[inside]
        scale = 1.0 if self.edge_step is not None else _area_scale(m, p)
        return inside, m, p * scale, scale

    def loss(self, shift: float) -> float:
        """1 - cosine: shape only, so a window slid onto the flat pre-edge cannot win by scaling the
        prediction to zero, as a least-squares fit with a free scale would."""
        result = self.evaluate(shift)
        return np.inf if result is None else 1.0 - cosine(result[1], result[2])

    def comparison(self, shift: float, shift_source: str) -> Comparison:
        result = self.evaluate(shift)
        if result is None:
            raise InputError(self.measured.name, f"with a shift of {shift:g} eV the measurement covers under half "
                                                 f"of the predicted range of {self.name}")
        inside, m, p, scale = result
        grid = self.window[inside] + shift
        details = {"e0_measured_ev": self.norm.e0_ev, "e0_predicted_ev": self.e0_pred,
                   "edge_step": self.norm.edge_step, "core_hole_ev": self.core_hole_ev,
                   "resolution_ev": self.resolution_ev, "window_ev": [float(grid[0]), float(grid[-1])],
                   "normalisation": "edge step" if self.edge_step is not None else "area",
                   "scale": scale, "shift": shift_source}
        return Comparison("xas", self.name, self.measured.name, "eV", grid, m, p, score_spectra(grid, m, p),
                          float(shift), details)


def _fit_shift(pairs: list, measured_name: str, max_shift_ev: float, step_ev: float) -> float:
    """The one rigid shift at which the best-fitting of ``pairs`` fits best (smallest 1 - cosine over the
    pairs): searched on a grid within ``max_shift_ev`` of the median E0 difference, then refined. With one
    pair it is that pair's best shift. (The shift of the best mean over all pairs was tried and rejected:
    it lands between the candidates' alignments and ranks the wrong compound first on real Cr K data.)"""
    def objective(shift: float) -> float:
        return float(min(pair.loss(shift) for pair in pairs))

    guess = float(np.median([pair.guess for pair in pairs]))
    trial = np.arange(guess - max_shift_ev, guess + max_shift_ev + step_ev / 2, step_ev)
    losses = np.array([objective(s) for s in trial])
    if not np.isfinite(losses).any():
        norm = pairs[0].norm
        raise InputError(measured_name, f"the measured range {norm.energy_ev[0]:.1f}-{norm.energy_ev[-1]:.1f} eV "
                                        f"does not overlap the predicted spectra within {max_shift_ev:g} eV of the "
                                        f"E0 difference")
    best = float(trial[int(np.argmin(losses))])
    refined = minimize_scalar(objective, bounds=(best - step_ev, best + step_ev), method="bounded",
                              options={"xatol": 1e-3})
    return float(refined.x) if refined.fun <= losses.min() else best


def compare_xas(predicted, measured: MeasuredXas, window_ev: float | None = None, core_hole_ev: float | None = 0.0,
                resolution_ev: float = 0.0, max_shift_ev: float = 20.0, shift_ev: float | None = None,
                step_ev: float = 0.1, name: str | None = None) -> Comparison:
    """Score a predicted XAS against a measured one.

    Args:
        predicted: pymatgen ``XAS`` (energies in eV, any absolute scale) or an object with ``.average``. When
            it (or its ``.average``) has ``edge_step`` (the edge step in the prediction's unit), the prediction
            is divided by it and compared with the unit-edge-step measurement as it is; otherwise it is
            scaled to the measurement's area over the compared range.
        measured: a :class:`MeasuredXas` (raw or normalised mu).
        window_ev: ``None`` (default): the whole predicted range that the measurement covers. A number: a
            window of that width from the onset of the predicted spectrum (a few eV before it first rises).
        core_hole_ev: Lorentzian FWHM (eV) applied to the prediction: 0 (default) for none, as FEFF spectra
            and models trained on them already include the core-hole lifetime; ``None`` takes the tabulated
            core-hole width of the absorbing element and edge (xraydb), for a calculation without it.
        resolution_ev: Gaussian FWHM (eV) of the experimental resolution, applied to the prediction.
        max_shift_ev: the shift is searched within this distance of the E0 difference.
        shift_ev: a fixed shift (e.g. a calibration) instead of a fitted one.
        step_ev: spacing of the common grid.
        name: names the prediction in the result.

    Returns:
        :class:`Comparison` with ``shift_ev`` (measured energy = predicted energy + shift).
    """
    pair = _XasPair(predicted, measured, window_ev, core_hole_ev, resolution_ev, step_ev, name)
    if shift_ev is None:
        return pair.comparison(_fit_shift([pair], measured.name, max_shift_ev, step_ev), "fitted")
    return pair.comparison(float(shift_ev), "given")


# ----------------------------------------------------------------------------------------------- phonon DOS


#: Fast mode: a DOS still above this share of its maximum at the top of its grid has modes beyond it.
TRUNCATION_SHARE = 0.05


def truncation_note(prediction) -> str | None:
    """A one-line note when a prediction lives on the 51-bin label grid (fast mode) and its DOS at the top
    of that grid is above ``TRUNCATION_SHARE`` of its maximum: the material likely has modes above it."""
    if getattr(prediction, "full_range", None) is not None or not hasattr(prediction, "freq_cm1"):
        return None
    dos = np.asarray(prediction.dos, float)
    if dos.max() > 0 and dos[-1] > TRUNCATION_SHARE * dos.max():
        top = float(prediction.freq_cm1[-1])
        return (f"note: {prediction.name}: predicted DOS at {top:.0f} cm^-1 ({top / CM1_PER_MEV:.0f} meV) is "
                f"{100 * dos[-1] / dos.max():.0f}% of its maximum: modes likely above the fast model's grid; "
                "use --mode physics for the full range")
    return None


def _phonon_arrays(prediction) -> tuple[np.ndarray, np.ndarray, dict]:
    """(energy_mev, total_dos, partial_dos) of a phonon prediction or a pymatgen ``PhononDos`` (THz): the
    full-range native-resolution DOS where the prediction has one (physics/hybrid modes)."""
    full = getattr(prediction, "full_range", None)
    if full is not None:
        return np.asarray(full.energy_mev, float), np.asarray(full.dos, float), dict(full.partial_dos)
    if hasattr(prediction, "freq_cm1"):
        return (np.asarray(prediction.freq_cm1, float) / CM1_PER_MEV, np.asarray(prediction.dos, float),
                dict(getattr(prediction, "partial_dos", {}) or {}))
    if hasattr(prediction, "frequencies") and hasattr(prediction, "densities"):
        return np.asarray(prediction.frequencies, float) * MEV_PER_THZ, np.asarray(prediction.densities, float), {}
    raise InputError(_prediction_name(prediction), "not a phonon-DOS prediction (no freq_cm1/dos or PhononDos)")


def compare_phdos(predicted, measured: MeasuredDos, resolution_mev=None, neutron_weighting: bool = True,
                  name: str | None = None) -> Comparison:
    """Score a predicted phonon DOS against a measured (neutron-weighted) one.

    Args:
        predicted: ``PhononDosPrediction`` (grid in cm^-1, per-element ``partial_dos``) or ``PhononDos`` (THz).
        measured: a :class:`MeasuredDos` (meV).
        resolution_mev: instrument resolution FWHM in meV: a number, polynomial coefficients
            ``(c0, c1, ...)`` of the energy in meV, or a callable; None for none.
        neutron_weighting: weight the per-element partial DOS by ``sigma_scatt/M`` (an INS measurement).
            Needs ``partial_dos`` when there is more than one element.
        name: names the prediction in the result.

    Returns:
        :class:`Comparison` on the measured energies inside the predicted range, both at unit area.
    """
    name = name or _prediction_name(predicted)
    energy, total, partial = _phonon_arrays(predicted)
    if neutron_weighting and len(partial) > 1:
        dos = neutron_weighted_dos(partial)
    elif neutron_weighting and not partial and hasattr(predicted, "structure") and \
            len(predicted.structure.composition.elements) > 1:
        raise InputError(name, "neutron weighting needs per-element partial DOS")
    else:
        dos = total
    full_range = getattr(predicted, "full_range", None) is not None
    if full_range and measured.energy_mev[-1] > energy[-1]:
        # a full-range DOS is known to vanish above its highest mode: it covers the whole measured range
        step = float(energy[1] - energy[0])
        extra = np.arange(energy[-1] + step, measured.energy_mev[-1] + 2 * step, step)
        energy, dos = np.concatenate([energy, extra]), np.concatenate([dos, np.zeros(len(extra))])
    fine_grid, fine = broaden_dos(energy, dos, resolution_mev, step=float(energy[1] - energy[0]) if full_range else None)
    inside = (measured.energy_mev >= fine_grid[0]) & (measured.energy_mev <= fine_grid[-1])
    if inside.sum() < _MIN_OVERLAP_POINTS:
        raise InputError(measured.name, f"fewer than {_MIN_OVERLAP_POINTS} measured points inside the predicted range "
                                        f"{fine_grid[0]:.0f}-{fine_grid[-1]:.0f} meV")
    grid = measured.energy_mev[inside]
    m = measured.dos[inside]
    p = np.interp(grid, fine_grid, fine)
    area_m, area_p = np.trapezoid(m, grid), np.trapezoid(p, grid)
    if area_m <= 0 or area_p <= 0:
        raise InputError(measured.name, "no spectral weight in the common energy range")
    m, p = m / area_m, p / area_p
    factor = DOS_UNITS.get(measured.unit, 1.0)
    details = {"neutron_weighted": bool(neutron_weighting and len(partial) > 1),
               "resolution_mev": resolution_mev if not callable(resolution_mev) else
               getattr(resolution_mev, "description", "callable"),
               "energy_range_mev": [float(grid[0]), float(grid[-1])],
               "measured_unit_range": [float(grid[0] / factor), float(grid[-1] / factor)],
               "full_range": full_range}
    note = truncation_note(predicted)
    if note:
        details["note"] = note
    return Comparison("phdos", name, measured.name, "meV", grid, m, p, score_spectra(grid, m, p), None, details)


# ----------------------------------------------------------------------------------------------- entry points


def compare_spectra(prediction, measured, **options) -> Comparison:
    """Dispatch on the prediction's kind: XAS (has ``.average`` or is an ``XAS``) or phonon DOS."""
    if is_xas(prediction):
        if not isinstance(measured, MeasuredXas):
            raise InputError(getattr(measured, "name", None), "an XAS prediction needs a measured XAS spectrum")
        allowed = {"window_ev", "core_hole_ev", "resolution_ev", "max_shift_ev", "shift_ev", "step_ev", "name"}
        return compare_xas(prediction, measured, **{k: v for k, v in options.items() if k in allowed})
    if not isinstance(measured, MeasuredDos):
        raise InputError(getattr(measured, "name", None), "a phonon-DOS prediction needs a measured phonon DOS")
    allowed = {"resolution_mev", "neutron_weighting", "name"}
    return compare_phdos(prediction, measured, **{k: v for k, v in options.items() if k in allowed})


def _as_predictor(model):
    """A loaded predictor (anything with ``predict``). Analysis sits below the API, so loading a model by name
    is the API's job: ``equispec.compare`` and ``equispec.identify`` take names."""
    if hasattr(model, "predict"):
        return model
    raise TypeError(f"expected a loaded predictor, got {model!r}: use equispec.load_model({model!r}), or "
                    "equispec.compare / equispec.identify, which take model names")


def _predict_one(predictor, structure):
    result = predictor.predict(structure)
    return result[0] if isinstance(result, (list, tuple)) else result


def _predictor_kind(predictor) -> str:
    """``xas`` or ``phdos``, from the predictor's grid (``freq_cm1`` means phonon DOS)."""
    return "phdos" if hasattr(predictor, "freq_cm1") else "xas"


def _read_measured(measured, kind: str, dos_unit: str | None):
    if isinstance(measured, (MeasuredXas, MeasuredDos, MeasuredSqe)):
        return measured
    if kind == "xas":
        return read_measured_xas(measured)
    return read_measured_sqe(measured) if is_sqe_file(measured) else read_measured_dos(measured, dos_unit)


#: Options of an S(Q,E) comparison besides ``resolution_mev`` (see ``analysis.sqe.compare_sqe``).
_SQE_OPTIONS = ("temperature_k", "elastic_mev", "npts", "name", "progress")


def compare(structure, measured, model, *, dos_unit: str | None = None, **options):
    """Predict the spectrum of ``structure`` with ``model`` and score it against a measured file.

    Args:
        structure: a structure file, pymatgen ``Structure`` or ASE ``Atoms``.
        measured: a measured file (XDI or two-column text for XAS; an energy/DOS table for phonons) or an
            already read :class:`MeasuredXas` / :class:`MeasuredDos`.
        model: a loaded predictor (``equispec.load_model``; a measured S(|Q|, E) map (``.npz``) needs one
            in ``physics`` or ``hybrid`` mode). ``equispec.compare`` takes model names.
        dos_unit: energy unit of a measured DOS table when its header does not say (meV, THz, cm-1).
        **options: processing options of :func:`compare_xas`, :func:`compare_phdos` or
            ``analysis.sqe.compare_sqe`` (``resolution_mev``, ``temperature_k``, ``elastic_mev``).

    Returns:
        :class:`Comparison`, or ``analysis.sqe.SqeComparison`` for a measured map.
    """
    predictor = _as_predictor(model)
    measured = _read_measured(measured, _predictor_kind(predictor), dos_unit)
    if isinstance(measured, MeasuredSqe):
        from .sqe import compare_sqe

        if getattr(predictor, "mode", "fast") == "fast":
            raise InputError(measured.name, "an S(Q,E) comparison needs force constants: use --mode physics or hybrid")
        return compare_sqe(_predict_one(predictor, structure), measured, resolution=options.get("resolution_mev"),
                           **{k: v for k, v in options.items() if k in _SQE_OPTIONS})
    options = {k: v for k, v in options.items() if k not in _SQE_OPTIONS or k == "name"}
    return compare_spectra(_predict_one(predictor, structure), measured, **options)


def candidate_files(candidates) -> list:
    """Expand candidates: a folder becomes its files (sorted, hidden ones skipped); others pass through."""
    if isinstance(candidates, (str, os.PathLike)):
        candidates = [candidates]
    out = []
    for candidate in candidates:
        if isinstance(candidate, (str, os.PathLike)) and Path(candidate).is_dir():
            files = sorted(p for p in Path(candidate).iterdir() if p.is_file() and not p.name.startswith("."))
            if not files:
                raise InputError(str(candidate), "candidate folder is empty")
            out.extend(str(p) for p in files)
        else:
            out.append(candidate)
    if not out:
        raise InputError(None, "no candidate structures given")
    return out


#: How ``identify`` aligns XAS candidates with the measurement (see :func:`identify`).
XAS_SHIFT_MODES = ("common", "per-candidate")
_XAS_OPTIONS = ("window_ev", "core_hole_ev", "resolution_ev", "max_shift_ev", "step_ev")


def calibrate_shift(standard_structure, standard_measured, model, **options) -> float:
    """The energy shift (eV, measured = predicted + shift) that aligns ``model``'s prediction for a known
    standard with its measurement: a calibration for other samples of the same element and edge measured
    on the same energy scale (same beamline and session). ``options`` as for :func:`compare_xas`."""
    return float(compare(standard_structure, standard_measured, model, **options).shift_ev)


def identify(measured, candidates, model, *, top: int | None = None, rank_by: str = "mse",
             dos_unit: str | None = None, shift_mode: str = "common", calibration=None,
             **options) -> list[Comparison]:
    """Rank candidate structures by how well their predicted spectra agree with a measurement.

    XAS: every candidate is compared at ONE energy shift, the calibration of the calculation's energy scale
    to the measurement's for this element and edge, so that the edge positions (chemical shifts: a Cu(I)
    edge lies a few eV below a Cu(II) one) count as evidence instead of being fitted away per candidate.
    That shift is, in order of preference: ``shift_ev`` (a known calibration); ``calibration=(structure,
    measured_file)`` (a standard of known structure measured on the same scale, see
    :func:`calibrate_shift`); otherwise the shift at which the best-fitting candidate fits best (1 - cosine),
    which leaves the others their misalignment as evidence but trusts the winner's shape, so give a
    calibration when there is one. ``shift_mode="per-candidate"`` fits each candidate's own shift instead.

    Args:
        measured: measured file or already read spectrum.
        candidates: structure files, a folder of them, ``Structure``/``Atoms`` objects, or a mix.
        model: a loaded predictor (``equispec.identify`` takes model names).
        top: keep the best ``top`` (all when None).
        rank_by: the score to rank by (one of ``mse, cosine, pearson, spearman, wasserstein``).
        dos_unit: see :func:`compare`.
        shift_mode: XAS: ``common`` (default) or ``per-candidate``.
        calibration: XAS: ``(standard_structure, standard_measured)`` to calibrate the shift on.
        **options: processing options, as for :func:`compare`.

    Returns:
        Comparisons, best first. Every candidate is read and checked before any is predicted.
    """
    if rank_by not in HIGHER_IS_BETTER:
        raise InputError("rank_by", f"unknown score {rank_by!r} (use one of {', '.join(HIGHER_IS_BETTER)})")
    if shift_mode not in XAS_SHIFT_MODES:
        raise InputError("shift_mode", f"unknown shift mode {shift_mode!r} (use one of {', '.join(XAS_SHIFT_MODES)})")
    predictor = _as_predictor(model)
    kind = _predictor_kind(predictor)
    measured = _read_measured(measured, kind, dos_unit)
    files = candidate_files(candidates)
    if hasattr(predictor, "check"):
        for candidate in files:
            predictor.check(candidate)
    if kind == "phdos":
        comparisons = [compare_spectra(prediction, measured, **options) for prediction in predictor.predict(files)]
    else:
        comparisons = _identify_xas(predictor, measured, files, shift_mode, calibration, options)
    sign = -1.0 if HIGHER_IS_BETTER[rank_by] else 1.0
    comparisons.sort(key=lambda c: (np.nan_to_num(sign * c.scores[rank_by], nan=np.inf)))
    return comparisons[:top] if top else comparisons


def _identify_xas(predictor, measured, files, shift_mode, calibration, options) -> list[Comparison]:
    xas_options = {k: v for k, v in options.items() if k in _XAS_OPTIONS}
    shift_ev = options.get("shift_ev")
    if shift_ev is None and calibration is not None:
        standard_structure, standard_measured = calibration
        shift_ev = calibrate_shift(standard_structure, standard_measured, predictor, **xas_options)
        source = "calibrated"
    else:
        source = "given"
    predictions = [_predict_one(predictor, candidate) for candidate in files]
    if shift_mode == "per-candidate" and shift_ev is None:
        return [compare_xas(p, measured, **xas_options) for p in predictions]
    window_ev = xas_options.get("window_ev")
    step_ev = xas_options.get("step_ev", 0.1)
    norm = normalize_xas(measured.energy_ev, measured.mu, name=measured.name)
    pairs = [_XasPair(p, measured, window_ev, xas_options.get("core_hole_ev", 0.0),
                      xas_options.get("resolution_ev", 0.0), step_ev, None, norm) for p in predictions]
    if shift_ev is None:
        shift_ev = _fit_shift(pairs, measured.name, xas_options.get("max_shift_ev", 20.0), step_ev)
        source = "common fit"
    return [pair.comparison(float(shift_ev), source) for pair in pairs]


# ----------------------------------------------------------------------------------------------- figure


def plot_comparison(comparison: Comparison, path: str | os.PathLike) -> Path:
    """Overlay of measurement and processed prediction with the residual below; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io.spectra import check_figure_path, save_figure

    path = check_figure_path(path)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 5.0), dpi=120, sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    label = f"{comparison.name}"
    if comparison.shift_ev is not None:
        label += f" (shifted {comparison.shift_ev:+.2f} eV)"
    top.plot(comparison.grid, comparison.measured, "k-", lw=1.5, label=f"measured: {Path(comparison.measured_name).name}")
    top.plot(comparison.grid, comparison.predicted, "C3-", lw=1.5, label=f"predicted: {label}")
    s = comparison.scores
    top.set_title(f"MSE {s['mse']:.3g}   cosine {s['cosine']:.3f}   Pearson {s['pearson']:.3f}   "
                  f"Spearman {s['spearman']:.3f}", fontsize=8)
    top.set_ylabel("normalised $\\mu$" if comparison.kind == "xas" else "neutron-weighted DOS (1/meV)")
    top.legend(fontsize=7, frameon=False)
    bottom.plot(comparison.grid, comparison.residual, "C0-", lw=1)
    bottom.axhline(0, color="0.5", lw=0.5)
    bottom.set_ylabel("residual")
    bottom.set_xlabel("Energy (eV)" if comparison.kind == "xas" else "Energy (meV)")
    return save_figure(fig, path)
