"""Model builders: one shared backbone, thin heads, a registry of architecture names."""

from .backbone import EquivariantBackbone
from .build import ARCHITECTURES, EnsembleModel, ModelHyperparameters, SpectrumModel, build_model
from .heads import PhononDosHead

__all__ = ["ARCHITECTURES", "EnsembleModel", "EquivariantBackbone", "ModelHyperparameters", "PhononDosHead", "SpectrumModel",
           "build_model"]
