"""Inference: one predictor per task (``ModelInfo.task``) turns structures into graphs, runs the model forward
only and returns results holding pymatgen objects. The workflows (the API and the CLI), training's validation
scores and the scripts all predict through here; analysis never does (it scores what it is handed)."""

from .base import Predictor
from .loading import PREDICTORS, PRETRAINED, load_predictor, predictor_for, resolve_model_dir
from .phonon import PHONON_MODES, PhononDosPrediction, PhononDosPredictor
from .reference import ReferenceXasPrediction, ReferenceXasPredictor
from .xas import XasPrediction, XasPredictor

__all__ = ["PHONON_MODES", "PREDICTORS", "PRETRAINED", "PhononDosPrediction", "PhononDosPredictor", "Predictor",
           "ReferenceXasPrediction", "ReferenceXasPredictor", "XasPrediction", "XasPredictor", "load_predictor",
           "predictor_for", "resolve_model_dir"]
