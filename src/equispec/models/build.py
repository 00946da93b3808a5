"""Config -> model, through a closed registry of architecture names (never a class path from a file)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch

from ..errors import ConfigError
from .backbone import EquivariantBackbone
from .heads import PhononDosHead

__all__ = ["ModelHyperparameters", "SpectrumModel", "ARCHITECTURES", "build_model"]


@dataclass
class ModelHyperparameters:
    """Everything needed to rebuild a model; stored verbatim in ``model.json``."""

    cutoff_ang: float = 5.0
    num_layers: int = 3
    mul: int = 32
    lmax: int = 2
    embed_dim: int = 64
    num_radial: int = 10
    radial_hidden: int = 64
    readout_hidden: int = 128
    n_out: int = 51
    avg_num_neighbors: float = 20.0

    @classmethod
    def from_dict(cls, values: dict, source: str = "model") -> "ModelHyperparameters":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(source, f"unknown key '{unknown[0]}' (known: {', '.join(sorted(known))})")
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


class SpectrumModel(torch.nn.Module):
    """Backbone + head. ``forward(data)`` returns the dictionary of ``keys`` fields both wrote."""

    def __init__(self, backbone: torch.nn.Module, head: torch.nn.Module):
        super().__init__()
        self.backbone = backbone
        self.head = head

    @property
    def cutoff_ang(self) -> float:
        return self.backbone.cutoff_ang

    def forward(self, data) -> dict:
        return self.head(data, self.backbone(data))


def _phdos_gate_v1(hp: ModelHyperparameters) -> SpectrumModel:
    backbone = EquivariantBackbone(hp.cutoff_ang, hp.num_layers, hp.mul, hp.lmax, hp.embed_dim, hp.num_radial,
                                   hp.radial_hidden, hp.avg_num_neighbors)
    return SpectrumModel(backbone, PhononDosHead(backbone.irreps_out, hp.n_out, hp.readout_hidden))


#: Registry of architecture names stored in configs and ``model.json``.
ARCHITECTURES = {"phdos_gate_v1": _phdos_gate_v1}


def build_model(architecture: str, hyperparameters: ModelHyperparameters | dict) -> SpectrumModel:
    if architecture not in ARCHITECTURES:
        raise ConfigError("architecture", f"unknown architecture '{architecture}' "
                                          f"(known: {', '.join(sorted(ARCHITECTURES))})")
    if isinstance(hyperparameters, dict):
        hyperparameters = ModelHyperparameters.from_dict(hyperparameters)
    return ARCHITECTURES[architecture](hyperparameters)
