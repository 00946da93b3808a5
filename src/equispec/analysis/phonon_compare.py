"""A phonon-DOS prediction against a measured (neutron-weighted) DOS: the prediction is converted to meV,
neutron-weighted (``sigma_scatt/M`` per element on the per-element partial DOS), broadened by the instrument
resolution and scaled to the measurement's area on their common energy range. With ``fit_energy_scale`` a
stiffness factor s on the predicted energies is fitted too (g_s(E) = g(E / s) / s, before the resolution)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..io.spectra import TRUNCATION_SHARE, truncation_note  # their home: the CLI's output notes
from ..io.units import CM1_PER_MEV, MEV_PER_THZ
from ..physics.neutron import ins_dos
from .comparison import _MIN_OVERLAP_POINTS, Comparison, _prediction_name
from .energy_scale import ENERGY_SCALE_BOUNDS, EnergyScaleFit, minimise_energy_scale
from .readers import DOS_UNITS, MeasuredDos
from .scores import score_spectra

__all__ = ["TRUNCATION_SHARE", "compare_phdos", "truncation_note"]


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
                  name: str | None = None, fit_energy_scale: bool = False) -> Comparison:
    """Score a predicted phonon DOS against a measured (neutron-weighted) one.

    Args:
        predicted: ``PhononDosPrediction`` (grid in cm^-1, per-element ``partial_dos``) or ``PhononDos`` (THz).
        measured: a :class:`MeasuredDos` (meV).
        resolution_mev: instrument resolution FWHM in meV: a number, polynomial coefficients
            ``(c0, c1, ...)`` of the energy in meV, or a callable; None for none.
        neutron_weighting: weight the per-element partial DOS by ``sigma_scatt/M`` (an INS measurement).
            Needs ``partial_dos`` when there is more than one element.
        name: names the prediction in the result.
        fit_energy_scale: also fit a stiffness factor s in ``ENERGY_SCALE_BOUNDS`` (0.7-1.4) on the predicted
            energies, g_s(E) = g(E / s) / s, by least squares on the unit-area spectra (the MSE score's
            residual); the headline ``scores`` stay those at s = 1. A fit at a bound is an ``InputError``.

    Returns:
        :class:`Comparison` on the measured energies inside the predicted range, both at unit area.
    """
    name = name or _prediction_name(predicted)
    energy, total, partial = _phonon_arrays(predicted)
    if neutron_weighting and not partial and hasattr(predicted, "structure") and \
            len(predicted.structure.composition.elements) > 1:
        raise InputError(name, "neutron weighting needs per-element partial DOS")
    weighting = partial if neutron_weighting and len(partial) > 1 else None
    full_range = getattr(predicted, "full_range", None) is not None
    spectrum = _processed_dos(energy, total, weighting, measured, resolution_mev, full_range, measured.energy_mev,
                              within_span=True)
    low, high = spectrum.span_mev
    if spectrum.inside.sum() < _MIN_OVERLAP_POINTS:
        raise InputError(measured.name, f"fewer than {_MIN_OVERLAP_POINTS} measured points inside the predicted range "
                                        f"{low:.0f}-{high:.0f} meV")
    grid = measured.energy_mev[spectrum.inside]
    m = measured.dos[spectrum.inside]
    area_m = np.trapezoid(m, grid)
    if area_m <= 0 or spectrum.area <= 0:
        raise InputError(measured.name, "no spectral weight in the common energy range")
    m, p = m / area_m, spectrum.values
    factor = DOS_UNITS.get(measured.unit, 1.0)
    details = {"neutron_weighted": bool(neutron_weighting and len(partial) > 1),
               "resolution_mev": resolution_mev if not callable(resolution_mev) else
               getattr(resolution_mev, "description", "callable"),
               "energy_range_mev": [float(grid[0]), float(grid[-1])],
               "measured_unit_range": [float(grid[0] / factor), float(grid[-1] / factor)],
               "full_range": full_range}
    if resolution_mev is None:
        details["resolution_note"] = ("note: no instrument resolution applied (native resolution): give --instrument "
                                      "NAME --ei MEV or --resolution-mev FWHM to compare as a spectrometer sees it")
    notes = [n for n in (getattr(measured, "note", None), truncation_note(predicted)) if n]
    if notes:
        details["note"] = "\n".join(notes)
    energy_scale = None
    if fit_energy_scale:
        energy_scale = _fit_dos_energy_scale(energy, total, weighting, measured, resolution_mev, full_range, grid, m)
        details["energy_scale_fit"] = energy_scale.details
    return Comparison("phdos", name, measured.name, "meV", grid, m, p, score_spectra(grid, m, p), None, details,
                      energy_scale=energy_scale)


def _processed_dos(energy: np.ndarray, total: np.ndarray, weighting: dict | None, measured: MeasuredDos,
                   resolution_mev, full_range: bool, on_mev: np.ndarray, energy_scale: float = 1.0,
                   within_span: bool = False):
    """The predicted DOS as the measurement reads it on ``on_mev`` (``physics.neutron.ins_dos``): weighted by
    the partial DOS of ``weighting`` (else ``total``), energies times ``energy_scale`` s (g_s(E) = g(E / s) / s),
    broadened, at unit area. A full-range DOS is known to vanish above its highest mode: it covers the whole
    measured range."""
    return ins_dos(energy, total, resolution_mev, on_mev, partial_dos=weighting, energy_scale=energy_scale,
                   full_range_to_mev=measured.energy_mev[-1] if full_range else None, within_span=within_span)


def _fit_dos_energy_scale(energy: np.ndarray, total: np.ndarray, weighting: dict | None, measured: MeasuredDos,
                          resolution_mev, full_range: bool, grid: np.ndarray,
                          measured_on_grid: np.ndarray) -> EnergyScaleFit:
    """Fit s on the measured energies of ``grid`` (values ``measured_on_grid``) that the scaled prediction covers
    at every s within the bounds (all of them for a full-range DOS, which vanishes above its top; a label-grid
    DOS ends at its grid).

    A DOS table states no errors, so chi^2 is the sum of squared residuals over their variance at the
    minimum, SSR / (SSR(s) / (n - 1)) (one fitted parameter: each spectrum is normalised, not fitted), and
    sigma_s = sqrt(2 / chi^2'') = sqrt(2 SSR(s) / ((n - 1) SSR'')).
    """
    import time

    low, high = ENERGY_SCALE_BOUNDS
    started = time.perf_counter()
    top = np.inf if full_range else float(energy[-1]) * low
    covered = (grid >= float(energy[0]) * high) & (grid <= top)
    if covered.sum() < _MIN_OVERLAP_POINTS:
        raise InputError(measured.name, f"fewer than {_MIN_OVERLAP_POINTS} measured points inside the predicted range "
                                        f"at every energy scale {low:g}-{high:g}")
    fit_grid = grid[covered]
    m = measured_on_grid[covered] / np.trapezoid(measured_on_grid[covered], fit_grid)

    def predicted_at(energy_scale: float) -> np.ndarray:
        spectrum = _processed_dos(energy, total, weighting, measured, resolution_mev, full_range, fit_grid,
                                  energy_scale)
        if not spectrum.area > 0:
            raise InputError(measured.name, f"no predicted weight in the common energy range at s = {energy_scale:.4g}")
        return spectrum.values

    def squared_residual(energy_scale: float) -> float:
        return float(np.sum((m - predicted_at(energy_scale)) ** 2))

    scale, ssr, curvature, details = minimise_energy_scale(squared_residual, measured.name)
    p = predicted_at(scale)
    variance = ssr / max(len(fit_grid) - 1, 1)
    details.update(chi2_note="DOS table without errors: chi^2 = squared residual / its variance at the fitted s",
                   residual_variance=variance, squared_residual=ssr, squared_residual_at_1=squared_residual(1.0),
                   energy_range_mev=[float(fit_grid[0]), float(fit_grid[-1])], points=int(len(fit_grid)),
                   wall_s=round(time.perf_counter() - started, 3))
    predicted = np.interp(grid, fit_grid, p, left=np.nan, right=np.nan)
    return EnergyScaleFit(scale, float(np.sqrt(2.0 * variance / curvature)), ENERGY_SCALE_BOUNDS,
                          score_spectra(fit_grid, m, p), details, predicted)
