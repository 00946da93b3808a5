"""Predict and evaluate: the calls the command line and the Python API share."""

from __future__ import annotations

from .models import as_predictor
from .structures import resolve_structures

__all__ = ["evaluate", "predict"]


def predict(structures, model="phdos", *, names: list | None = None, mode: str | None = None,
            potential: str | None = None, relax: bool | None = None, device: str | None = None,
            batch_size: int = 64, progress: bool = False, scheduler: str | None = None,
            workers: int | None = None) -> list:
    """Predict the spectra of ``structures`` (paths, Materials Project ids, ``Structure`` or ``Atoms``) with
    ``model`` (a shipped name, a model directory or a loaded predictor); ``mode``, ``potential``, ``relax``
    and ``device`` as in :func:`~equispec.workflows.load_model`. Returns one prediction per structure.

    Physics and hybrid modes compute the physics DOS of several structures in parallel: on the Dask cluster
    whose scheduler is at ``scheduler`` (``tcp://host:8786``), else on ``workers`` local processes (None: one
    per core; 1: in this process); see ``docs/cluster.md``."""
    predictor = as_predictor(model, mode=mode, potential=potential, relax=relax, device=device)
    _use_engine(predictor, scheduler, workers)
    inputs, names = resolve_structures(structures, names)
    return predictor.predict(inputs, names, batch_size=batch_size, progress=progress)


def evaluate(model, data, *, ids=None, split: str | None = None, mode: str | None = None,
             potential: str | None = None, relax: bool | None = None, device: str | None = None,
             progress: bool = False, physics_cache=None, scheduler: str | None = None,
             workers: int | None = None) -> dict:
    """Score ``model`` on labelled data: a phonon-DOS CSV (optionally restricted to the ids listed in the
    file ``ids``) or an XAS data folder (its ``split``, default ``val``). Returns the metrics. ``scheduler``
    and ``workers``: where physics and hybrid modes compute the physics DOS, as in :func:`predict`.

    Raises:
        InputError: ``ids`` for XAS or ``split`` for phonon data (each kind selects its rows its own way).
    """
    from ..errors import InputError

    predictor = as_predictor(model, mode=mode, potential=potential, relax=relax, device=device)
    _use_engine(predictor, scheduler, workers)
    if predictor.task == "xas":
        if ids:
            raise InputError("--ids", "XAS data folders select spectra with --split, not --ids")
        metrics, _, _ = predictor.evaluate(data, split or "val")
        return metrics
    if split:
        raise InputError("--split", "phonon-DOS CSVs select materials with --ids, not --split")
    metrics, _, _ = predictor.evaluate(data, ids, progress=progress, physics_cache=physics_cache)
    return metrics


def _use_engine(predictor, scheduler: str | None, workers: int | None) -> None:
    """``scheduler`` / ``workers`` on a physics or hybrid predictor (left as it is when both are None)."""
    from ..errors import InputError

    if scheduler is None and workers is None:
        return
    if getattr(predictor, "mode", "fast") == "fast" or not hasattr(predictor, "use_engine"):
        raise InputError("--scheduler" if scheduler is not None else "--workers", "is for --mode physics or hybrid")
    predictor.use_engine(scheduler=scheduler, workers=workers)
