"""Rank candidate structures by how well their predicted spectra fit one measurement.

XAS candidates share ONE rigid energy shift (given, calibrated on a standard, or fitted to all together), so
that the chemical shifts between candidates stay in the comparison.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..analysis.compare import compare_spectra, refuse_inapplicable
from ..analysis.comparison import Comparison
from ..analysis.scores import HIGHER_IS_BETTER
from ..analysis.xas_compare import _fit_shift, _XasPair, compare_xas
from ..analysis.xas_processing import normalize_xas
from ..errors import InputError
from .comparing import compare, predict_one, read_measured
from .models import as_predictor
from .structures import resolve_structures

__all__ = ["XAS_SHIFT_MODES", "calibrate_shift", "candidate_files", "identify"]


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


def identify(measured, candidates, model="phdos", *, top: int | None = None, rank_by: str = "mse",
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
        model: a shipped model name, a model directory or a loaded predictor.
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
    predictor = as_predictor(model)
    kind = predictor.task
    measured = read_measured(measured, kind, dos_unit)
    files, names = resolve_structures(candidate_files(candidates))
    refuse_inapplicable(options, kind)
    if hasattr(predictor, "check"):  # every candidate is read and checked before any is predicted
        for candidate, name in zip(files, names):
            predictor.check(candidate, name)
    if kind == "phdos":
        predictions = predictor.predict(files) if not any(names) else predictor.predict(files, names)
        comparisons = [compare_spectra(prediction, measured, **options) for prediction in predictions]
    else:
        comparisons = _identify_xas(predictor, measured, files, names, shift_mode, calibration, options)
    sign = -1.0 if HIGHER_IS_BETTER[rank_by] else 1.0
    comparisons.sort(key=lambda c: (np.nan_to_num(sign * c.scores[rank_by], nan=np.inf)))
    return comparisons[:top] if top else comparisons


def _identify_xas(predictor, measured, files, names, shift_mode, calibration, options) -> list[Comparison]:
    xas_options = {k: v for k, v in options.items() if k in _XAS_OPTIONS}
    shift_ev = options.get("shift_ev")
    if shift_ev is None and calibration is not None:
        standard_structure, standard_measured = calibration
        shift_ev = calibrate_shift(standard_structure, standard_measured, predictor, **xas_options)
        source = "calibrated"
    else:
        source = "given"
    predictions = [predict_one(predictor, f) if n is None else predictor.predict([f], [n])[0]
                   for f, n in zip(files, names)]
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
