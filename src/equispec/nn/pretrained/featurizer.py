"""Frozen per-atom features from a pretrained universal interatomic potential.

SevenNet-0 (Park et al., J. Chem. Theory Comput. 20, 4857 (2024); MIT licence) is a NequIP-style e3nn
network trained on forces and energies of ~1.6 M DFT structures (MPtrj). The invariant (``0e``) channels
after each of its five interaction blocks describe each atom's bonding environment as the potential
sees it, which is what sets force constants and hence phonon frequencies. Its weights ship inside the
``sevenn`` wheel (no download). :class:`PretrainedFeaturizer` runs its blocks forward only, many structures
and their mirror images per batch (:class:`equispec.nn.pretrained.blocks.SevenNetBlocks`), and the averaged
features become a node field (``keys.NODE_PRETRAINED``) of the graph.
"""

from __future__ import annotations

import functools

import numpy as np
from pymatgen.core import Structure

from ...errors import ModelError
from .table import get_features

__all__ = ["PretrainedFeaturizer", "check_pretrained_record", "first_trainable_block", "get_featurizer",
           "pretrained_record"]


class PretrainedFeaturizer:
    """Structures -> (num_atoms, feature_dim) float32 invariant features of a frozen pretrained potential.

    Args:
        name: a feature name of the potentials' table (``equispec.nn.pretrained.table.FEATURES``).
        device: where the potential runs (the predictor's or the trainer's device).
    """

    def __init__(self, name: str, device: str = "cpu"):
        self.potential = get_features(name)
        self.name = name
        self.device = device
        self.checkpoint = self.potential.checkpoint
        self.num_blocks, self.channels = self.potential.num_blocks, self.potential.channels
        self.feature_dim = self.potential.feature_dim

    @functools.cached_property
    def blocks(self):
        """The potential's blocks, loaded on first use (a fully cached data set never loads them)."""
        from .blocks import load_sevennet

        blocks = load_sevennet(self.checkpoint, self.device)
        if (blocks.num_blocks, blocks.channels) != (self.num_blocks, self.channels):
            raise ModelError(self.name, f"sevenn {blocks.sevenn_version} built {blocks.num_blocks} blocks of "
                                        f"{blocks.channels} scalars, not {self.num_blocks} of {self.channels}")
        if blocks.cutoff_ang != self.potential.cutoff_ang:  # the graph-size check assumed it
            raise ModelError(self.name, f"sevenn {blocks.sevenn_version} has a {blocks.cutoff_ang:g} Å cutoff, not "
                                        f"{self.potential.cutoff_ang:g} Å")
        return blocks

    @property
    def record(self) -> dict:
        """What decides the features (name, sevenn checkpoint and version, checkpoint sha256), for
        ``model.json`` and the feature-cache keys; cheap (does not build the potential)."""
        from .blocks import sevennet_record

        return {"name": self.name, **sevennet_record(self.checkpoint)}

    def batch(self, structures: list[Structure], names: list[str] | None = None) -> list[np.ndarray]:
        """Features of many structures, each averaged over the structure and its mirror image.

        SevenNet's scalar channels are rotation invariant but not parity-resolved: some change sign under
        inversion. Averaging over the inverted copy makes them O(3) invariant, so that enantiomorphs get
        the same spectrum.
        """
        names = names or [f"structure {k}" for k in range(len(structures))]
        graphs = [self.blocks.graph(s, n) for s, n in zip(structures, names)]
        return self.blocks.features(graphs, mirror=True)

    def __call__(self, structure: Structure) -> np.ndarray:
        return self.batch([structure])[0]


def first_trainable_block(hyperparameters: dict) -> int | None:
    """The first fine-tuned interaction block of a model's pretrained potential (``model.pretrained_trainable``),
    None when every block is frozen: the featurizer then hands over finished features instead of block inputs."""
    from .trainable import trainable_block_count

    name = hyperparameters.get("pretrained")
    if not name:
        return None
    num_blocks = get_features(name).num_blocks
    trainable = trainable_block_count(hyperparameters.get("pretrained_trainable", "none"), num_blocks)
    return num_blocks - trainable if trainable else None


@functools.lru_cache(maxsize=None)
def get_featurizer(name: str, device: str = "cpu") -> PretrainedFeaturizer:
    """One featurizer per (name, device) and process (loading the potential takes seconds)."""
    return PretrainedFeaturizer(name, str(device))


def pretrained_record(name: str) -> dict:
    """``model.json``'s ``pretrained_backbone``: the features' name, sevenn checkpoint and version, and the sha256
    of the checkpoint file (see :func:`equispec.nn.pretrained.blocks.sevennet_record`)."""
    return get_featurizer(name).record


def check_pretrained_record(info: dict, source: str) -> None:
    """A model trained on pretrained features needs the same potential weights at prediction time.

    ``model.json`` records them (``pretrained_backbone``, written since issue 13; older files have none and
    are not checked). Another sevenn version with the same checkpoint file is fine.

    Raises:
        ModelError: the installed sevenn ships other weights for that potential.
    """
    recorded = info.get("pretrained_backbone")
    name = info.get("hyperparameters", {}).get("pretrained")
    if not recorded or not name:
        return
    installed = pretrained_record(name)
    if recorded.get("weights_sha256") != installed["weights_sha256"]:
        raise ModelError(source, f"was trained on {name} features from checkpoint sha256 "
                                 f"{str(recorded.get('weights_sha256'))[:12]}... (sevenn "
                                 f"{recorded.get('sevenn_version')}), but the installed sevenn "
                                 f"{installed['sevenn_version']} ships {installed['weights_sha256'][:12]}...")
