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

from ..errors import InputError
from .comparison import Comparison, is_xas
from .phonon_compare import compare_phdos
from .readers import (MeasuredDos, MeasuredSqe, MeasuredXas, is_sqe_file, read_measured_dos, read_measured_sqe,
                      read_measured_xas)
from .xas_compare import compare_xas

__all__ = ["compare", "compare_spectra"]


def compare_spectra(prediction, measured, **options) -> Comparison:
    """Dispatch on the prediction's kind: XAS (has ``.average`` or is an ``XAS``) or phonon DOS."""
    if is_xas(prediction):
        if options.get("fit_energy_scale"):
            raise InputError("--fit-energy-scale", "is for phonon comparisons (a DOS table or an S(Q,E) map)")
        if not isinstance(measured, MeasuredXas):
            raise InputError(getattr(measured, "name", None), "an XAS prediction needs a measured XAS spectrum")
        allowed = {"window_ev", "core_hole_ev", "resolution_ev", "max_shift_ev", "shift_ev", "step_ev", "name"}
        return compare_xas(prediction, measured, **{k: v for k, v in options.items() if k in allowed})
    if not isinstance(measured, MeasuredDos):
        raise InputError(getattr(measured, "name", None), "a phonon-DOS prediction needs a measured phonon DOS")
    allowed = {"resolution_mev", "neutron_weighting", "name", "fit_energy_scale"}
    return compare_phdos(prediction, measured, **{k: v for k, v in options.items() if k in allowed})


def _as_predictor(model):
    """A loaded predictor (anything with ``predict`` and a ``task``, ``phdos`` or ``xas``). Analysis sits below
    the API, so loading a model by name is the API's job: ``equispec.compare`` and ``equispec.identify`` take
    names."""
    if hasattr(model, "predict") and hasattr(model, "task"):
        return model
    raise TypeError(f"expected a loaded predictor, got {model!r}: use equispec.load_model({model!r}), or "
                    "equispec.compare / equispec.identify, which take model names")


def _predict_one(predictor, structure):
    result = predictor.predict(structure)
    return result[0] if isinstance(result, (list, tuple)) else result


def _predictor_kind(predictor) -> str:
    """``xas`` or ``phdos``: the task of the predictor's model."""
    return predictor.task


def _read_measured(measured, kind: str, dos_unit: str | None):
    if isinstance(measured, (MeasuredXas, MeasuredDos, MeasuredSqe)):
        return measured
    if kind == "xas":
        return read_measured_xas(measured)
    return read_measured_sqe(measured) if is_sqe_file(measured) else read_measured_dos(measured, dos_unit)


#: Options of an S(Q,E) comparison besides ``resolution_mev`` (see ``analysis.sqe.compare_sqe``).
_SQE_OPTIONS = ("temperature_k", "ei_mev", "elastic_mev", "npts", "phonon_order", "name", "progress",
                "fit_energy_scale")
#: Options that both an S(Q,E) comparison and ``compare_spectra`` take.
_SHARED_OPTIONS = ("name", "fit_energy_scale")


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
            ``analysis.sqe.compare_sqe`` (``resolution_mev``, which may name an instrument, ``ei_mev``,
            ``temperature_k``, ``elastic_mev``, ``phonon_order``; ``fit_energy_scale`` for a phonon DOS or map,
            refused for XAS).

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
    options = {k: v for k, v in options.items() if k not in _SQE_OPTIONS or k in _SHARED_OPTIONS}
    return compare_spectra(_predict_one(predictor, structure), measured, **options)
