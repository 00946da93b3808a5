"""Predict and evaluate: the calls the command line and the Python API share."""

from __future__ import annotations

from .models import as_predictor
from .structures import resolve_structures

__all__ = ["evaluate", "predict"]


def predict(structures, model="phdos", *, names: list | None = None, mode: str | None = None,
            potential: str | None = None, relax: bool | None = None, device: str | None = None,
            batch_size: int = 64, progress: bool = False) -> list:
    """Predict the spectra of ``structures`` (paths, Materials Project ids, ``Structure`` or ``Atoms``) with
    ``model`` (a shipped name, a model directory or a loaded predictor); ``mode``, ``potential``, ``relax``
    and ``device`` as in :func:`~equispec.workflows.load_model`. Returns one prediction per structure."""
    predictor = as_predictor(model, mode=mode, potential=potential, relax=relax, device=device)
    inputs, names = resolve_structures(structures, names)
    return predictor.predict(inputs, names, batch_size=batch_size, progress=progress)


def evaluate(model, data, *, ids=None, split: str | None = None, mode: str | None = None,
             potential: str | None = None, relax: bool | None = None, device: str | None = None,
             progress: bool = False, physics_cache=None) -> dict:
    """Score ``model`` on labelled data: a phonon-DOS CSV (optionally restricted to the ids listed in the
    file ``ids``) or an XAS data folder (its ``split``, default ``val``). Returns the metrics.

    Raises:
        InputError: ``ids`` for XAS or ``split`` for phonon data (each kind selects its rows its own way).
    """
    from ..errors import InputError

    predictor = as_predictor(model, mode=mode, potential=potential, relax=relax, device=device)
    if predictor.task == "xas":
        if ids:
            raise InputError("--ids", "XAS data folders select spectra with --split, not --ids")
        metrics, _, _ = predictor.evaluate(data, split or "val")
        return metrics
    if split:
        raise InputError("--split", "phonon-DOS CSVs select materials with --ids, not --split")
    metrics, _, _ = predictor.evaluate(data, ids, progress=progress, physics_cache=physics_cache)
    return metrics
