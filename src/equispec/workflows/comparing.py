"""Compare a prediction with a measurement: read the measured file, predict the structure with a model, and
hand both to the scoring of :mod:`equispec.analysis`. Call order: workflows -> inference (-> physics) ->
analysis, never back up."""

from __future__ import annotations

from ..analysis.compare import SQE_OPTIONS, compare_spectra, refuse_inapplicable
from ..analysis.readers import (MeasuredDos, MeasuredSqe, MeasuredXas, is_sqe_file, read_measured_dos,
                                read_measured_sqe, read_measured_xas)
from ..errors import InputError
from .models import as_predictor
from .structures import resolve_structures

__all__ = ["compare", "predict_one", "read_measured"]


def predict_one(predictor, structure):
    """The prediction of one structure (a path, Materials Project id, ``Structure`` or ``Atoms``); any object
    with ``predict(structure)`` serves as the predictor."""
    (structure,), (name,) = resolve_structures([structure])
    result = predictor.predict(structure) if name is None else predictor.predict([structure], [name])
    return result[0] if isinstance(result, (list, tuple)) else result


def read_measured(measured, kind: str, dos_unit: str | None = None):
    """A measured file read as the model's ``kind`` (``xas`` or ``phdos``: a DOS table or an S(Q,E) ``.npz``)
    expects; an already read measurement as it is."""
    if isinstance(measured, (MeasuredXas, MeasuredDos, MeasuredSqe)):
        return measured
    if kind == "xas":
        return read_measured_xas(measured)
    return read_measured_sqe(measured) if is_sqe_file(measured) else read_measured_dos(measured, dos_unit)


def compare(structure, measured, model="phdos", *, mode: str | None = None, potential: str | None = None,
            relax: bool | None = None, dos_unit: str | None = None, **options):
    """Predict the spectrum of ``structure`` with ``model`` and score it against a measured file.

    Args:
        structure: a structure file, Materials Project id, pymatgen ``Structure`` or ASE ``Atoms``.
        measured: a measured file (XDI or two-column text for XAS; an energy/DOS table for phonons) or an
            already read :class:`MeasuredXas` / :class:`MeasuredDos`.
        model: a shipped model name, a model directory or a loaded predictor (a measured S(|Q|, E) map
            (``.npz``) needs ``physics`` or ``hybrid`` mode); ``mode``, ``potential`` and ``relax`` as in
            :func:`~equispec.workflows.load_model`.
        dos_unit: energy unit of a measured DOS table when its header does not say (meV, THz, cm-1).
        **options: processing options of :func:`compare_xas`, :func:`compare_phdos` or
            ``analysis.sqe.compare_sqe`` (``resolution_mev``, which may name an instrument, ``ei_mev``,
            ``temperature_k``, ``elastic_mev``, ``phonon_order``; ``fit_energy_scale`` for a phonon DOS or map,
            refused for XAS). An option the measured kind does not read is refused, not dropped.

    Returns:
        :class:`Comparison`, or ``analysis.sqe.SqeComparison`` for a measured map.
    """
    predictor = as_predictor(model, mode=mode, potential=potential, relax=relax)
    measured = read_measured(measured, predictor.task, dos_unit)
    if isinstance(measured, MeasuredSqe):
        from ..analysis.sqe import compare_sqe

        if getattr(predictor, "mode", "fast") == "fast":
            raise InputError(measured.name, "an S(Q,E) comparison needs force constants: use --mode physics or hybrid")
        refuse_inapplicable(options, "sqe")
        sqe_options = {k: v for k, v in options.items() if (k in SQE_OPTIONS and k != "resolution_mev") or k == "name"}
        return compare_sqe(predict_one(predictor, structure), measured, resolution=options.get("resolution_mev"),
                           **sqe_options)
    refuse_inapplicable(options, predictor.task)  # before the seconds a physics prediction may take
    return compare_spectra(predict_one(predictor, structure), measured, **options)
