"""An XAS prediction against a measured spectrum, as XAFS practice processes both.

The measurement is normalised to unit edge step (pre/post-edge lines, E0 at max dmu/dE); the prediction is
divided by its own edge step when it states one (``edge_step``), else scaled to the measurement's area; it
can be broadened by a core-hole width (Lorentzian; off by default, as FEFF spectra include it) and an
experimental resolution (Gaussian), and is shifted rigidly in energy (FEFF energies are not calibrated to
experiment): :func:`compare_xas` fits that shift. The whole predicted range that the measurement covers is
compared unless ``window_ev`` asks for a window from the onset.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from ..broadening import gaussian_broaden, lorentzian_broaden
from ..errors import InputError
from .comparison import _MIN_OVERLAP_POINTS, Comparison, _prediction_name
from .readers import MeasuredXas
from .scores import cosine, score_spectra
from .xas_processing import core_hole_fwhm_ev, find_e0, normalize_xas

__all__ = ["ONSET_FRACTION", "ONSET_MARGIN_EV", "compare_xas"]


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
