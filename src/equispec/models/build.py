"""Config -> model, through a closed registry of architecture names (never a class path from a file)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Optional

import torch

from .. import keys
from ..data.graphs import graph_index
from ..errors import ConfigError, EquispecError
from ..typed_fields import bounded, check_fields
from .backbone import EquivariantBackbone
from .heads import PhononDosHead, SiteSpectrumHead, max_normalised

__all__ = ["ModelHyperparameters", "SpectrumModel", "EnsembleModel", "ARCHITECTURES", "ARCHITECTURE_TASKS", "build_model"]


@dataclass
class ModelHyperparameters:
    """Everything needed to rebuild a model; stored verbatim in ``model.json``."""

    #: Options removed because they did not help (docs/training.md): files that have them off still load.
    RETIRED: ClassVar[dict] = {"num_species_features": 0, "gamma_aux": False, "atom_sum_rule": False}

    cutoff_ang: float = field(default=5.0, metadata=bounded(0.5, 12.0))
    num_layers: int = field(default=3, metadata=bounded(0, 12))
    mul: int = field(default=32, metadata=bounded(1, 512))
    lmax: int = field(default=2, metadata=bounded(0, 4))
    embed_dim: int = field(default=64, metadata=bounded(1, 2048))
    num_radial: int = field(default=10, metadata=bounded(1, 128))
    radial_hidden: int = field(default=64, metadata=bounded(1, 2048))
    readout_hidden: int = field(default=128, metadata=bounded(1, 4096))
    n_out: int = field(default=51, metadata=bounded(1, 4096))
    avg_num_neighbors: float = field(default=20.0, metadata=bounded(0, 1e4, low_open=True))
    dropout: float = field(default=0.0, metadata=bounded(0, 1))  # in the readout MLP
    pretrained: Optional[str] = None  # per-atom features, a feature name of nn.pretrained.table.FEATURES
    pretrained_trainable: Any = "none"  # fine-tuned pretrained blocks: none | all | {last_k: K}
    env_cutoff_ang: float = field(default=6.0, metadata=bounded(0.5, 12.0))  # XAS: absorber's radial distribution
    output_scale: float = field(default=1.0, metadata=bounded(0, 1e6, low_open=True))  # XAS: data units per output

    @classmethod
    def from_dict(cls, values: dict, source: str = "model", error: type[EquispecError] = ConfigError
                  ) -> "ModelHyperparameters":
        """Check keys, types and bounds (the bounds keep a hand-edited ``model.json`` from asking for a
        network that exhausts memory) and build."""
        if not isinstance(values, dict):
            raise error(source, f"expected a mapping, got {type(values).__name__}")
        return cls(**check_fields(cls, values, source, error))

    def to_dict(self) -> dict:
        return asdict(self)


class SpectrumModel(torch.nn.Module):
    """Backbone + head. ``forward(data)`` returns the dictionary of ``keys`` fields both wrote; ``task``
    (``phdos`` or ``xas``) says which fields those are, so that callers never guess it from the keys."""

    def __init__(self, backbone: torch.nn.Module, head: torch.nn.Module, task: str):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.task = task

    @property
    def cutoff_ang(self) -> float:
        return self.backbone.cutoff_ang

    def forward(self, data) -> dict:
        return self.head(data, self.backbone(data))


class EnsembleModel(torch.nn.Module):
    """Average of independently trained members that read the same graph and predict on the same grid
    (their architectures and hyper-parameters may differ otherwise).

    Writes the mean prediction to ``GRAPH_OUTPUT`` (and ``NODE_OUTPUT`` or ``SITE_OUTPUT``) and the spread
    of the members to ``GRAPH_OUTPUT_STD`` (and ``SITE_OUTPUT_STD``). Phonon DOS means are re-normalised to a
    maximum of 1, like the data; site spectra keep their absolute scale.
    """

    def __init__(self, members: list[SpectrumModel]):
        super().__init__()
        self.members = torch.nn.ModuleList(members)

    @property
    def cutoff_ang(self) -> float:
        return self.members[0].cutoff_ang

    @property
    def task(self) -> str:
        return self.members[0].task

    def forward(self, data) -> dict:
        outs = [member(data) for member in self.members]
        graph = torch.stack([o[keys.GRAPH_OUTPUT] for o in outs])
        out = dict(outs[0])
        if self.task == "xas":
            sites = torch.stack([o[keys.SITE_OUTPUT] for o in outs])
            out[keys.SITE_OUTPUT], out[keys.SITE_OUTPUT_STD] = sites.mean(0), sites.std(0, unbiased=False)
            out[keys.GRAPH_OUTPUT], out[keys.GRAPH_OUTPUT_STD] = graph.mean(0), graph.std(0, unbiased=False)
            return out
        nodes = torch.stack([o[keys.NODE_OUTPUT] for o in outs]).mean(0)
        batch = graph_index(data, len(nodes), nodes)
        out[keys.NODE_OUTPUT], out[keys.GRAPH_OUTPUT], scale = max_normalised(nodes, graph.mean(0), batch)
        out[keys.GRAPH_OUTPUT_STD] = graph.std(0, unbiased=False) / scale
        return out


def _pretrained_dim(name: Optional[str]) -> int:
    from ..nn.pretrained.table import FEATURES

    if name is None:
        return 0
    if name not in FEATURES:
        raise ConfigError("model.pretrained", f"unknown pretrained features '{name}' "
                                              f"(known: {', '.join(FEATURES)})")
    return FEATURES[name].feature_dim


def _trainable_blocks(hp: ModelHyperparameters):
    """Trainable copies of the last pretrained blocks (``model.pretrained_trainable``), or None."""
    from ..nn.pretrained import TrainableSevenNetBlocks, get_features, load_sevennet, trainable_block_count

    if hp.pretrained is None:
        if hp.pretrained_trainable not in (None, "none"):
            raise ConfigError("model.pretrained_trainable", "needs model.pretrained")
        return None
    potential = get_features(hp.pretrained)
    count = trainable_block_count(hp.pretrained_trainable, potential.num_blocks)
    return TrainableSevenNetBlocks(load_sevennet(potential.checkpoint), count) if count else None


def _backbone(hp: ModelHyperparameters) -> EquivariantBackbone:
    return EquivariantBackbone(hp.cutoff_ang, hp.num_layers, hp.mul, hp.lmax, hp.embed_dim, hp.num_radial,
                               hp.radial_hidden, hp.avg_num_neighbors, _pretrained_dim(hp.pretrained),
                               _trainable_blocks(hp))


def _phdos_gate_v1(hp: ModelHyperparameters) -> SpectrumModel:
    backbone = _backbone(hp)
    return SpectrumModel(backbone, PhononDosHead(backbone.irreps_out, hp.n_out, hp.readout_hidden, hp.dropout), "phdos")


def _xas_site_v1(hp: ModelHyperparameters) -> SpectrumModel:
    from ..data.xas import XAS_EDGES

    if hp.env_cutoff_ang > hp.cutoff_ang:
        raise ConfigError("model.env_cutoff_ang", f"{hp.env_cutoff_ang} Å exceeds the graph cutoff {hp.cutoff_ang} Å")
    backbone = _backbone(hp)
    return SpectrumModel(backbone, SiteSpectrumHead(backbone.irreps_out, hp.n_out, hp.readout_hidden, hp.env_cutoff_ang,
                                                    len(XAS_EDGES), hp.dropout, hp.output_scale), "xas")


#: Registry of architecture names stored in configs and ``model.json``.
ARCHITECTURES = {"phdos_gate_v1": _phdos_gate_v1, "xas_site_v1": _xas_site_v1}
#: The task (kind of spectrum) each architecture predicts.
ARCHITECTURE_TASKS = {"phdos_gate_v1": "phdos", "xas_site_v1": "xas"}


def build_model(architecture: str, hyperparameters: ModelHyperparameters | dict) -> SpectrumModel:
    """Build a registered architecture from its hyper-parameters."""
    if architecture not in ARCHITECTURES:
        raise ConfigError("architecture", f"unknown architecture '{architecture}' "
                                          f"(known: {', '.join(sorted(ARCHITECTURES))})")
    from ..nn.lean_build import lean_e3nn_build

    if isinstance(hyperparameters, dict):
        hyperparameters = ModelHyperparameters.from_dict(hyperparameters)
    with lean_e3nn_build():  # the same modules, without recomputing e3nn's activation constants
        return ARCHITECTURES[architecture](hyperparameters)
