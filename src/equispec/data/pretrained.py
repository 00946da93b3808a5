"""Frozen per-atom features from a pretrained universal interatomic potential.

SevenNet-0 (Park et al., J. Chem. Theory Comput. 20, 4857 (2024); MIT licence) is a NequIP-style e3nn
network trained on forces and energies of ~1.6 M DFT structures (MPtrj). The invariant (``0e``) channels
after each of its five interaction blocks describe each atom's bonding environment as the potential
sees it, which is what sets force constants and hence phonon frequencies. Its weights ship inside the
``sevenn`` wheel (no download); we run it on each structure and its mirror image (the calculator also
computes forces, which are discarded) and store the averaged features as a node field
(``keys.NODE_PRETRAINED``) of the graph.
"""

from __future__ import annotations

import contextlib
import functools
import warnings

import numpy as np
from pymatgen.core import Structure

from ..errors import ModelError

__all__ = ["PRETRAINED_FEATURES", "PretrainedFeaturizer", "get_featurizer", "sevennet_calculator", "float32_default"]


@contextlib.contextmanager
def float32_default():
    """SevenNet is built and run in float32, whatever the caller's default dtype."""
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        torch.set_default_dtype(previous)

#: name -> (sevenn model name, number of interaction blocks, scalar channels per block)
PRETRAINED_FEATURES = {"sevennet-0": ("7net-0", 5, 128)}


class PretrainedFeaturizer:
    """Structure -> (num_atoms, feature_dim) float32 invariant features of a frozen pretrained potential."""

    def __init__(self, name: str):
        if name not in PRETRAINED_FEATURES:
            raise ModelError(name, f"unknown pretrained features (known: {', '.join(PRETRAINED_FEATURES)})")
        try:
            import torch
            from pymatgen.io.ase import AseAtomsAdaptor
        except ImportError:
            raise ModelError(name, "needs torch and pymatgen") from None
        checkpoint, self.num_blocks, self.channels = PRETRAINED_FEATURES[name]
        self.name = name
        self.feature_dim = self.num_blocks * self.channels
        self._torch = torch
        self._adaptor = AseAtomsAdaptor
        self._calculator = sevennet_calculator(checkpoint)
        self._captured: dict[int, object] = {}
        modules = self._calculator.model._modules
        for block in range(self.num_blocks):
            modules[f"{block}_equivariant_gate"].register_forward_hook(self._capture(block))

    def _capture(self, block: int):
        def hook(module, inputs, output):
            # the first `channels` entries of the gate output are its 0e scalars
            self._captured[block] = output["x"][:, : self.channels].detach()
        return hook

    def _features(self, structure: Structure) -> np.ndarray:
        atoms = self._adaptor.get_atoms(structure)
        atoms.calc = self._calculator
        self._captured.clear()
        with float32_default():  # the calculator also differentiates for forces; we only read features
            atoms.get_potential_energy()
        return self._torch.cat([self._captured[b] for b in range(self.num_blocks)], dim=1).numpy()

    def __call__(self, structure: Structure) -> np.ndarray:
        """Features averaged over the structure and its mirror image.

        SevenNet's scalar channels are rotation invariant but not parity-resolved: some change sign under
        inversion. Averaging over the inverted copy makes them O(3) invariant, so that enantiomorphs get
        the same spectrum.
        """
        from pymatgen.core import Lattice

        mirror = Structure(Lattice(-structure.lattice.matrix), structure.species, structure.frac_coords)
        return (0.5 * (self._features(structure) + self._features(mirror))).astype(np.float32)


@functools.lru_cache(maxsize=None)
def sevennet_calculator(checkpoint: str = "7net-0"):
    """One SevenNet ASE calculator per process, shared by the featurizer and the physics mode. Call it
    inside ``float32_default()``."""
    try:
        from sevenn.calculator import SevenNetCalculator
    except ImportError:
        raise ModelError(checkpoint, "needs the sevenn package: pip install sevenn") from None
    with float32_default():
        return SevenNetCalculator(checkpoint, device="cpu")


@functools.lru_cache(maxsize=None)
def get_featurizer(name: str) -> PretrainedFeaturizer:
    """One featurizer per process (loading the potential takes a second)."""
    return PretrainedFeaturizer(name)
