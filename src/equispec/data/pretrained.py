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

__all__ = ["PRETRAINED_FEATURES", "PretrainedFeaturizer", "get_featurizer", "sevennet_calculator", "float32_default"]

#: name -> (sevenn model name, number of interaction blocks, scalar channels per block)
PRETRAINED_FEATURES = {"sevennet-0": ("7net-0", 5, 128)}


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
        from ..nn.sevennet import load_sevennet

        checkpoint, num_blocks, channels = PRETRAINED_FEATURES[name]
        self.name = name
        self.blocks = load_sevennet(checkpoint, device)
        if (self.blocks.num_blocks, self.blocks.channels) != (num_blocks, channels):
            raise ModelError(name, f"sevenn {self.blocks.sevenn_version} built {self.blocks.num_blocks} blocks of "
                                   f"{self.blocks.channels} scalars, not {num_blocks} of {channels}")
        self.num_blocks, self.channels = num_blocks, channels
        self.feature_dim = num_blocks * channels

    @property
    def record(self) -> dict:
        """What decides the features, for ``model.json`` and the feature-cache keys."""
        return {"name": self.name, "checkpoint": self.blocks.checkpoint, "sevenn_version": self.blocks.sevenn_version,
                "weights_sha256": self.blocks.weights_sha256}

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
