"""A phonon-DOS prediction against a measured (neutron-weighted) DOS: the prediction is converted to meV,
neutron-weighted (``sigma_scatt/M`` per element on the per-element partial DOS), broadened by the instrument
resolution and scaled to the measurement's area on their common energy range."""

from __future__ import annotations

import numpy as np

from ..broadening import broaden_dos
from ..errors import InputError
from ..io.units import CM1_PER_MEV, MEV_PER_THZ
from ..physics.neutron import neutron_weighted_dos
from .comparison import _MIN_OVERLAP_POINTS, Comparison, _prediction_name
from .readers import DOS_UNITS, MeasuredDos
from .scores import score_spectra

__all__ = ["TRUNCATION_SHARE", "compare_phdos", "truncation_note"]

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
    if resolution_mev is None:
        details["resolution_note"] = ("note: no instrument resolution applied (native resolution): give --instrument "
                                      "NAME --ei MEV or --resolution-mev FWHM to compare as a spectrometer sees it")
    notes = [n for n in (getattr(measured, "note", None), truncation_note(predicted)) if n]
    if notes:
        details["note"] = "\n".join(notes)
    return Comparison("phdos", name, measured.name, "meV", grid, m, p, score_spectra(grid, m, p), None, details)
