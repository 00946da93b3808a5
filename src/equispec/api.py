"""The Python API, kept under its first name: the same names as :mod:`equispec.workflows`."""

from .workflows import (PRETRAINED, compare, evaluate, identify, load_model, predict,  # noqa: F401
                        resolve_model_dir)
from .inference import PhononDosPrediction, PhononDosPredictor, XasPrediction, XasPredictor  # noqa: F401

__all__ = ["PRETRAINED", "PhononDosPrediction", "PhononDosPredictor", "XasPrediction", "XasPredictor", "compare",
           "evaluate", "identify", "load_model", "predict", "resolve_model_dir"]
