"""Model builders: one shared backbone, thin heads, a registry of architecture names."""

from ..nn import _e3nn  # noqa: F401  (first: e3nn without torch._dynamo)
from .backbone import EquivariantBackbone
from .build import ARCHITECTURES, EnsembleModel, ModelHyperparameters, SpectrumModel, build_model
from .heads import PhononDosHead

__all__ = ["ARCHITECTURES", "EnsembleModel", "EquivariantBackbone", "ModelHyperparameters", "PhononDosHead", "SpectrumModel",
           "build_model"]
