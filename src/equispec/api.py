"""Python API: ``load_model(name_or_dir).predict(structures)`` returns results holding pymatgen objects;
``compare`` and ``identify`` score predictions against measurements. The work is done in
:mod:`equispec.inference` (predictors) and :mod:`equispec.analysis` (comparisons); this module gives them
model names."""

from __future__ import annotations

from .inference import (PRETRAINED, PhononDosPrediction, PhononDosPredictor, XasPrediction, XasPredictor,
                        load_predictor, resolve_model_dir)

__all__ = ["PRETRAINED", "load_model", "compare", "identify", "resolve_model_dir", "PhononDosPrediction",
           "PhononDosPredictor", "XasPrediction", "XasPredictor"]

load_model = load_predictor


def compare(structure, measured, model="phdos", *, mode: str | None = None, potential: str | None = None,
            relax: bool | None = None, **options):
    """Predict ``structure``'s spectrum and score it against a measured file: ``model`` is a shipped name, a
    model directory or a loaded predictor; ``mode``, ``potential`` and ``relax`` as in :func:`load_model`
    (a measured S(|Q|, E) ``.npz`` needs ``mode="physics"`` or ``"hybrid"``). ``options``: see
    :func:`equispec.analysis.compare`."""
    from .analysis import compare as _compare

    return _compare(structure, measured, _predictor(model, mode=mode, potential=potential, relax=relax), **options)


def identify(measured, candidates, model="phdos", **options):
    """Rank candidate structures by agreement with a measurement; see :func:`equispec.analysis.identify`."""
    from .analysis import identify as _identify

    return _identify(measured, candidates, _predictor(model), **options)


def _predictor(model, **physics):
    """A loaded predictor as given, or ``load_model(model, **physics)`` without the options left unset."""
    if hasattr(model, "predict"):
        return model
    return load_model(model, **{k: v for k, v in physics.items() if v is not None})
