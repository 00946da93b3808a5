"""Frozen per-atom features from a pretrained universal interatomic potential.

SevenNet-0 (Park et al., J. Chem. Theory Comput. 20, 4857 (2024); MIT licence) is a NequIP-style e3nn
network trained on forces and energies of ~1.6 M DFT structures (MPtrj). The invariant (``0e``) channels
after each of its five interaction blocks describe each atom's bonding environment as the potential
sees it, which is what sets force constants and hence phonon frequencies. Its weights ship inside the
``sevenn`` wheel (no download). :class:`PretrainedFeaturizer` runs its blocks forward only, many structures
and their mirror images per batch (:class:`equispec.nn.sevennet.SevenNetBlocks`), and the averaged
features become a node field (``keys.NODE_PRETRAINED``) of the graph.
"""

from __future__ import annotations

import functools

import numpy as np
from pymatgen.core import Structure

from ..errors import ModelError

__all__ = ["PRETRAINED_FEATURES", "PRETRAINED_CUTOFF_ANG", "PretrainedFeaturizer", "check_pretrained_record", "first_trainable_block",
           "get_featurizer",
           "pretrained_record", "sevennet_calculator", "float32_default"]

#: name -> (sevenn model name, number of interaction blocks, scalar channels per block)
PRETRAINED_FEATURES = {"sevennet-0": ("7net-0", 5, 128), "sevennet-l3i5": ("7net-l3i5", 5, 128)}
#: The potentials' neighbour cutoffs (Å), known before loading them: the graph-size check runs first.
PRETRAINED_CUTOFF_ANG = {"sevennet-0": 5.0, "sevennet-l3i5": 5.0}


def float32_default():
    """SevenNet is built and run in float32, whatever the caller's default dtype (a context manager)."""
    from ..nn.sevennet import float32_default as _float32_default

    return _float32_default()


class PretrainedFeaturizer:
    """Structures -> (num_atoms, feature_dim) float32 invariant features of a frozen pretrained potential.

    Args:
        name: a key of ``PRETRAINED_FEATURES``.
        device: where the potential runs (the predictor's or the trainer's device).
    """

    def __init__(self, name: str, device: str = "cpu"):
        if name not in PRETRAINED_FEATURES:
            raise ModelError(name, f"unknown pretrained features (known: {', '.join(PRETRAINED_FEATURES)})")
        self.name = name
        self.device = device
        self.checkpoint, self.num_blocks, self.channels = PRETRAINED_FEATURES[name]
        self.feature_dim = self.num_blocks * self.channels

    @functools.cached_property
    def blocks(self):
        """The potential's blocks, loaded on first use (a fully cached data set never loads them)."""
        from ..nn.sevennet import load_sevennet

        blocks = load_sevennet(self.checkpoint, self.device)
        if (blocks.num_blocks, blocks.channels) != (self.num_blocks, self.channels):
            raise ModelError(self.name, f"sevenn {blocks.sevenn_version} built {blocks.num_blocks} blocks of "
                                        f"{blocks.channels} scalars, not {self.num_blocks} of {self.channels}")
        if blocks.cutoff_ang != PRETRAINED_CUTOFF_ANG[self.name]:  # the graph-size check assumed it
            raise ModelError(self.name, f"sevenn {blocks.sevenn_version} has a {blocks.cutoff_ang:g} Å cutoff, not "
                                        f"{PRETRAINED_CUTOFF_ANG[self.name]:g} Å")
        return blocks

    @property
    def record(self) -> dict:
        """What decides the features (name, sevenn checkpoint and version, checkpoint sha256), for
        ``model.json`` and the feature-cache keys; cheap (does not build the potential)."""
        from ..nn.sevennet import sevennet_record

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
    from ..nn.sevennet import trainable_block_count

    name = hyperparameters.get("pretrained")
    if not name:
        return None
    num_blocks = PRETRAINED_FEATURES[name][1]
    trainable = trainable_block_count(hyperparameters.get("pretrained_trainable", "none"), num_blocks)
    return num_blocks - trainable if trainable else None


@functools.lru_cache(maxsize=None)
def sevennet_calculator(checkpoint: str = "7net-0"):
    """One SevenNet ASE calculator per process (on the CPU), for code that wants ASE's interface, such as a
    relaxation. Batched features and forces go through :mod:`equispec.nn.sevennet` instead. Call it inside
    ``float32_default()``."""
    try:
        from sevenn.calculator import SevenNetCalculator
    except ImportError:
        raise ModelError(checkpoint, "needs the sevenn package: pip install sevenn") from None
    with float32_default():
        return SevenNetCalculator(checkpoint, device="cpu")


@functools.lru_cache(maxsize=None)
def get_featurizer(name: str, device: str = "cpu") -> PretrainedFeaturizer:
    """One featurizer per (name, device) and process (loading the potential takes seconds)."""
    return PretrainedFeaturizer(name, str(device))


def pretrained_record(name: str) -> dict:
    """``model.json``'s ``pretrained_backbone``: the features' name, sevenn checkpoint and version, and the sha256
    of the checkpoint file (see :func:`equispec.nn.sevennet.sevennet_record`)."""
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
