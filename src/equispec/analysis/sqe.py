"""A predicted powder S(|Q|, E) against a measured one, point by point on the measured kinematic region.

The prediction is the powder map of the force constants (see ``equispec.physics.neutron``): the coherent
one-phonon part from Euphonic plus the incoherent one-phonon and the n-phonon terms in the incoherent
approximation (``equispec.physics.multiphonon``), computed at the measured |Q| on a fine energy grid,
broadened by the energy resolution and put on the measured energies. The resolution, Ei and temperature are
given or read from the file, never silently assumed (a temperature that neither states is 300 K, and every
output says so). Points with |E| below ``elastic_mev`` (the elastic line) are left out. An overall scale
``a`` and a flat background ``b`` are fitted by weighted least squares (weights 1/error^2, errors floored
at their 1st percentile), and the scores
are Pearson's r between measured and ``a P + b``, the cosine between measured - b and a P, and the reduced
chi^2 of the residuals with the measured errors. With ``fit_energy_scale`` a stiffness factor s on every
phonon energy is fitted with them (``equispec.analysis.energy_scale``): the map is rebuilt from the same
modes with frequencies times s at each trial s, and the scores at s = 1 stay the headline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ..errors import InputError
from .comparison import ComparisonResult, _array
from .energy_scale import ENERGY_SCALE_BOUNDS, EnergyScaleFit, energy_scale_phrase, minimise_energy_scale
from .readers import MeasuredSqe
from .scores import cosine, pearson

__all__ = ["SqeComparison", "compare_sqe", "SQE_SCORE_KEYS"]

#: Scores of a map comparison, in the order they are printed.
SQE_SCORE_KEYS = ("pearson", "cosine", "chi2_reduced")
#: Fewest measured points a map comparison may rest on.
_MIN_POINTS = 20


@dataclass(eq=False)
class SqeComparison(ComparisonResult):
    """A predicted S(|Q|, E) map scored against a measured one (kind ``sqe``).

    Attributes:
        name, measured_name: the prediction and the measurement (file).
        q_inv_ang: (n_q,) measured |Q| in 1/Å; energy_mev: (n_e,) measured energies in meV.
        measured: (n_q, n_e) measured map, NaN where not compared.
        predicted: (n_q, n_e) ``a P + b``, NaN where not compared.
        scores: ``{pearson, cosine, chi2_reduced}``.
        scale, background: the fitted ``a`` and ``b``.
        details: processing (resolution, Ei, temperature and where each came from, phonon order and term
            shares, elastic cut, points compared), JSON-ready.
        cut: the Q-integrated spectra over the compared region, ``energy_mev``, ``measured``, ``predicted`` and
            ``one_phonon`` (the one-phonon part of ``a P + b``), each (n_cut,): sums over the compared |Q|
            bins at each energy.
        energy_scale: the fitted stiffness factor, its error and the scores at it (``fit_energy_scale``), or None.
    """

    kinds: ClassVar[tuple[str, ...]] = ("sqe",)

    name: str
    measured_name: str
    q_inv_ang: np.ndarray
    energy_mev: np.ndarray
    measured: np.ndarray
    predicted: np.ndarray
    scores: dict
    scale: float
    background: float
    details: dict = field(default_factory=dict)
    cut: dict = field(default_factory=dict)
    kind: str = "sqe"
    energy_unit: str = "meV"
    energy_scale: EnergyScaleFit | None = None

    def _record(self) -> dict:
        """Scores, fitted scale and background, what was compared and the Q-integrated cut."""
        compared = np.isfinite(self.measured)
        energies = self.energy_mev[compared.any(axis=0)]
        out = {key: self.scores[key] for key in SQE_SCORE_KEYS}
        out.update({"scale": self.scale, "background": self.background, "kind": self.kind, "structure": self.name,
                    "measured": self.measured_name, "energy_unit": self.energy_unit,
                    "e_min": float(energies.min()), "e_max": float(energies.max()), "details": self.details,
                    "cut": {key: [float(v) for v in values] for key, values in self.cut.items()}})
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        """The axes and the (n_q, n_e) maps (NaN where not compared); the cut is in ``to_dict()`` already."""
        return {"q_inv_ang": self.q_inv_ang, "energy_mev": self.energy_mev, "measured": self.measured,
                "predicted": self.predicted}

    @classmethod
    def _from_dict(cls, d: dict) -> SqeComparison:
        a = d["arrays"]
        return cls(d["structure"], d["measured"], _array(a["q_inv_ang"]), _array(a["energy_mev"]),
                   _array(a["measured"]), _array(a["predicted"]), {key: d[key] for key in SQE_SCORE_KEYS},
                   d["scale"], d["background"], d["details"], {key: _array(v) for key, v in d["cut"].items()},
                   d["kind"], d["energy_unit"], cls._energy_scale_from(d))

    def summary_line(self) -> str:
        """The prediction, its map scores over the compared points, and the fitted scale and background."""
        s = self.scores
        text = (f"{self.name}: S(Q,E) pearson {s['pearson']:.4f}, cosine {s['cosine']:.4f}, reduced chi2 "
                f"{s['chi2_reduced']:.4g} over {self.details['points']} points "
                f"(scale {self.scale:.4g}, background {self.background:.4g})")
        if self.energy_scale is not None:
            phrase = energy_scale_phrase(self.energy_scale, _SQE_FORMATS)
            text += "; " + phrase.replace("chi2_reduced", "reduced chi2")
        return text

    def notes(self) -> list[str]:
        """The settings the map was computed with: they change the answer, so a terminal always shows them."""
        return [self.settings_line()]

    def settings_line(self) -> str:
        """What the prediction was made with, for a plot title or a terminal: resolution, Ei, temperature,
        phonon order, each marked where it came from."""
        d = self.details
        marks = d.get("settings_source", {})

        def mark(key):
            return {"file": " (from file)", "default": " (assumed)"}.get(marks.get(key), "")

        ei = f"Ei {d['ei_mev']:g} meV{mark('ei_mev')}" if d.get("ei_mev") is not None else "Ei not used"
        return (f"resolution {d.get('resolution_fwhm_mev')}{mark('resolution')}; {ei}; "
                f"T {d['temperature_k']:g} K{mark('temperature_k')}; {d['phonon_order']}-phonon "
                f"(shares {', '.join(f'{x:.3f}' for x in d['term_shares'])})")


def _fine_energies(energy_mev: np.ndarray) -> np.ndarray:
    step = min(0.25, float(np.min(np.diff(energy_mev))) / 2)
    return np.arange(energy_mev[0] - 2 * step, energy_mev[-1] + 2 * step, step)


#: Measured errors below this quantile of a map's errors are raised to it. Bins that counted (almost)
#: nothing report errors near zero (1.6e-12 in the V map, against a median of 0.02): unfloored, nine such
#: points of 31 410 outweigh the rest and pull the fitted scale to 1e-7 (measured).
ERROR_FLOOR_QUANTILE = 0.01
#: The temperature assumed when neither the user nor the file gives one (stated in every output).
DEFAULT_TEMPERATURE_K = 300.0


def _settings(measured: MeasuredSqe, resolution, ei_mev, temperature_k) -> tuple[object, float | None, float, dict]:
    """The resolution, Ei and temperature a comparison applies, each given, from the file, or (temperature
    only) assumed; a resolution that is neither given nor in the file is an error."""
    from ..physics.neutron import energy_resolution

    source = {}
    if resolution is None and measured.instrument is not None:
        resolution, source["resolution"] = measured.instrument, "file"
    elif resolution is not None:
        source["resolution"] = "given"
    if ei_mev is None and measured.ei_mev is not None:
        ei_mev, source["ei_mev"] = measured.ei_mev, "file"
    elif ei_mev is not None:
        source["ei_mev"] = "given"
    if temperature_k is None:
        temperature_k, source["temperature_k"] = (measured.temperature_k, "file") if measured.temperature_k \
            else (DEFAULT_TEMPERATURE_K, "default")
    else:
        source["temperature_k"] = "given"
    if resolution is None:
        raise InputError(measured.name, "an S(Q,E) comparison needs the energy resolution and the file states "
                                        "none: give --instrument NAME --ei MEV, or --resolution-mev FWHM (0: none)")
    resolution = energy_resolution(resolution, ei_mev, needs="the incident energy: give --ei MEV (the file states "
                                                           "no ei_mev)")
    return resolution, ei_mev, float(temperature_k), source


def compare_sqe(prediction, measured: MeasuredSqe, resolution=None, temperature_k: float | None = None,
                ei_mev: float | None = None, elastic_mev: float | None = None, npts: int = 300,
                phonon_order="auto", name: str | None = None, progress: bool = False,
                fit_energy_scale: bool = False) -> SqeComparison:
    """Score the powder map of a physics-mode phonon prediction against a measured S(|Q|, E).

    Args:
        prediction: a ``PhononDosPrediction`` with ``force_constants`` (``--mode physics`` or ``hybrid``).
        measured: :class:`~equispec.analysis.readers.MeasuredSqe`.
        resolution: energy FWHM in meV (number, polynomial coefficients, callable) or an instrument name
            (resolved at ``ei_mev``); None: the file's ``instrument``, else an error (0: no resolution).
        temperature_k: sample temperature (Debye-Waller and Bose factors); None: the file's, else 300 K.
        ei_mev: incident energy for a named instrument; None: the file's ``ei_mev``.
        elastic_mev: leave out |E| below this (the elastic line); default 1.5 x the resolution FWHM at
            E = 0, or 3 meV without a resolution.
        npts: points on each |Q| sphere of the powder average.
        phonon_order: ``auto`` (n-phonon terms while each adds at least 1 %) or the highest n (1: one-phonon).
        fit_energy_scale: also fit a stiffness factor s in ``ENERGY_SCALE_BOUNDS`` (0.7-1.4) on every phonon
            energy (force constants times s^2), jointly with the scale and background, which are refitted
            at each s; the phonon order found at s = 1 is kept during the fit. A fit at a bound is an
            ``InputError``.
    """
    from ..broadening import resolution_fwhm
    from ..physics.multiphonon import parse_order
    from ..physics.neutron import broaden_map, euphonic_force_constants, powder_modes, quiet_euphonic

    name = name or getattr(prediction, "name", "prediction")
    if getattr(prediction, "force_constants", None) is None:
        raise InputError(name, "an S(Q,E) comparison needs force constants: use --mode physics or hybrid")
    phonon_order = parse_order(phonon_order)
    resolution, ei_mev, temperature_k, source = _settings(measured, resolution, ei_mev, temperature_k)
    usable = np.isfinite(measured.intensity) & np.isfinite(measured.error)
    if elastic_mev is None:
        fwhm = resolution_fwhm(resolution)
        at_zero = float(np.atleast_1d(fwhm(np.array([0.0])))[0]) if callable(fwhm) else float(fwhm)
        elastic_mev = 1.5 * at_zero if at_zero > 0 else 3.0
    usable &= (np.abs(measured.energy_mev) >= elastic_mev)[None, :]
    rows = np.flatnonzero(usable.any(axis=1))
    if usable.sum() < _MIN_POINTS:
        raise InputError(measured.name, f"fewer than {_MIN_POINTS} measured points outside the elastic line")

    with quiet_euphonic():
        fc = euphonic_force_constants(prediction.force_constants)
        fine = _fine_energies(measured.energy_mev)
        modes = powder_modes(fc, measured.q_inv_ang[rows], npts=npts, progress=progress)
        computed = modes.powder_map(fine, temperature_k, phonon_order=phonon_order)

    def on_measured(fine_map):
        out = np.full(measured.intensity.shape, np.nan)
        out[rows] = [np.interp(measured.energy_mev, fine, row) for row in fine_map]
        return out

    model = on_measured(broaden_map(fine, computed.intensity, resolution))
    one_phonon = on_measured(broaden_map(fine, computed.terms[0], resolution))
    term_sums = np.array([np.sum(on_measured(term)[usable]) for term in computed.terms])

    error = measured.error[usable]
    floor = float(np.quantile(error, ERROR_FLOOR_QUANTILE))
    m, p, w = measured.intensity[usable], model[usable], 1.0 / np.maximum(error, floor) ** 2
    scale, background, scores = _scale_and_scores(m, p, w)
    details = {"resolution_fwhm_mev": getattr(resolution, "description", resolution) if callable(resolution)
               else resolution, "ei_mev": ei_mev, "temperature_k": temperature_k, "settings_source": source,
               "phonon_order": computed.phonon_order,
               "term_shares": [round(float(x), 6) for x in term_sums / term_sums.sum()],
               "elastic_cut_mev": float(elastic_mev), "error_floor": floor, "points": int(usable.sum()),
               "npts_per_sphere": npts,
               "q_range_inv_ang": [float(measured.q_inv_ang[rows].min()), float(measured.q_inv_ang[rows].max())]}
    measured_map = np.where(usable, measured.intensity, np.nan)
    predicted_map = np.where(usable, scale * model + background, np.nan)
    cut_energies = usable.any(axis=0)
    cut = {"energy_mev": measured.energy_mev[cut_energies],
           "measured": np.nansum(measured_map, axis=0)[cut_energies],
           "predicted": np.nansum(predicted_map, axis=0)[cut_energies],
           "one_phonon": np.nansum(np.where(usable, scale * one_phonon + background, np.nan), axis=0)[cut_energies]}
    energy_scale = None
    if fit_energy_scale:
        started = time.perf_counter()

        def model_at(energy_scale_factor: float) -> np.ndarray:
            """The broadened map on the measured grid with every phonon energy times the factor."""
            with quiet_euphonic():
                trial = modes.powder_map(fine, temperature_k, phonon_order=computed.phonon_order,
                                         energy_scale=energy_scale_factor)
            return on_measured(broaden_map(fine, trial.intensity, resolution))

        def chi2_at(energy_scale_factor: float) -> float:
            trial = model_at(energy_scale_factor)[usable]
            trial_scale, trial_background, _ = _scale_and_scores(m, trial, w)
            return float(np.sum(w * (m - trial_scale * trial - trial_background) ** 2))

        fitted_scale, chi2_min, curvature, fit_details = minimise_energy_scale(chi2_at, measured.name)
        best = model_at(fitted_scale)
        scale_at, background_at, scores_at = _scale_and_scores(m, best[usable], w)
        fit_details.update(scale=scale_at, background=background_at, chi2=chi2_min,
                           chi2_at_1=scores["chi2_reduced"] * max(len(m) - 2, 1), phonon_order=computed.phonon_order,
                           wall_s=round(time.perf_counter() - started, 3))
        details["energy_scale_fit"] = fit_details
        cut["predicted_at_energy_scale"] = np.nansum(np.where(usable, scale_at * best + background_at, np.nan),
                                                     axis=0)[cut_energies]
        energy_scale = EnergyScaleFit(fitted_scale, float(np.sqrt(2.0 / curvature)), ENERGY_SCALE_BOUNDS, scores_at,
                                      fit_details, cut["predicted_at_energy_scale"])
    return SqeComparison(name, measured.name, measured.q_inv_ang, measured.energy_mev, measured_map, predicted_map,
                         scores, float(scale), float(background), details, cut, energy_scale=energy_scale)


def _scale_and_scores(m: np.ndarray, p: np.ndarray, w: np.ndarray) -> tuple[float, float, dict]:
    """The overall scale and flat background of ``a p + b`` by weighted linear least squares (weights ``w``)
    against ``m``, and the scores of the fit."""
    design = np.stack([p, np.ones_like(p)], axis=1)
    sqrt_w = np.sqrt(w)
    (scale, background), *_ = np.linalg.lstsq(design * sqrt_w[:, None], m * sqrt_w, rcond=None)
    fitted = scale * p + background
    chi2 = float(np.sum(w * (m - fitted) ** 2) / max(len(m) - 2, 1))
    scores = {"pearson": pearson(m, fitted), "cosine": cosine(m - background, scale * p), "chi2_reduced": chi2}
    return float(scale), float(background), scores


#: How each map score is printed.
_SQE_FORMATS = {"pearson": ".4f", "cosine": ".4f", "chi2_reduced": ".4g"}
