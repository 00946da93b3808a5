"""Models by name: the shipped ones or a trained model directory, loaded into the predictor of their task."""

from __future__ import annotations

from ..inference import PRETRAINED, load_predictor, resolve_model_dir

__all__ = ["PRETRAINED", "as_predictor", "load_model", "resolve_model_dir"]

load_model = load_predictor


def as_predictor(model, **physics):
    """A loaded predictor as given, or ``load_model(model, **physics)`` without the options left unset."""
    if hasattr(model, "predict") and hasattr(model, "task"):
        return model
    return load_model(model, **{k: v for k, v in physics.items() if v is not None})
