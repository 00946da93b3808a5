"""Invariant inputs of the network: atom types and edge geometry."""

from __future__ import annotations

import math

import numpy as np
import torch
from . import _e3nn  # noqa: F401  (first: e3nn without torch._dynamo)
from e3nn import o3
from e3nn.math import soft_one_hot_linspace

__all__ = ["AtomEmbedding", "RadialBasis", "EdgeSphericalHarmonics", "element_descriptors"]

MAX_Z = 118


def element_descriptors() -> np.ndarray:
    """(MAX_Z + 1, 6) table of physical element properties, row Z, from pymatgen.

    Columns: 1/sqrt(mass / amu) (phonon frequencies scale with it), mass / 100 amu, Pauling
    electronegativity / 4, atomic radius / 2 Å, period / 7, group / 18. Physical descriptors let rare
    elements borrow strength from chemically similar ones; missing values are 0.
    """
    import warnings

    from pymatgen.core.periodic_table import Element

    table = np.zeros((MAX_Z + 1, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for z in range(1, MAX_Z + 1):
            el = Element.from_Z(z)
            mass = float(el.atomic_mass)
            radius = el.atomic_radius
            chi = el.X
            table[z] = [
                1.0 / math.sqrt(mass),
                mass / 100.0,
                0.0 if chi is None or math.isnan(chi) else chi / 4.0,
                0.0 if radius is None else float(radius) / 2.0,
                el.row / 7.0,
                el.group / 18.0,
            ]
    return table


class AtomEmbedding(torch.nn.Module):
    """Z (and optional frozen per-atom features) -> ``{num_features}x0e``.

    The sum of a learned per-element vector, a projection of physical element descriptors and, with
    ``pretrained_dim > 0``, an MLP of standardised pretrained features (their mean and standard
    deviation over the training set are buffers, set once by :meth:`set_pretrained_statistics`).
    """

    def __init__(self, num_features: int, pretrained_dim: int = 0):
        super().__init__()
        self.irreps_out = o3.Irreps(f"{num_features}x0e")
        self.table = torch.nn.Embedding(MAX_Z + 1, num_features)
        self.register_buffer("descriptors", torch.tensor(element_descriptors(), dtype=torch.get_default_dtype()))
        self.project = torch.nn.Linear(self.descriptors.shape[1], num_features)
        self.pretrained_dim = pretrained_dim
        if pretrained_dim:
            self.register_buffer("pretrained_mean", torch.zeros(pretrained_dim))
            self.register_buffer("pretrained_std", torch.ones(pretrained_dim))
            self.pretrained = torch.nn.Sequential(torch.nn.Linear(pretrained_dim, 2 * num_features), torch.nn.SiLU(),
                                                  torch.nn.Linear(2 * num_features, num_features))

    def set_pretrained_statistics(self, features: torch.Tensor) -> None:
        """Standardise pretrained features with the statistics of ``features`` (num_atoms, pretrained_dim)."""
        self.pretrained_mean.copy_(features.mean(0))
        self.pretrained_std.copy_(features.std(0).clamp_min(1e-6))

    def forward(self, atomic_numbers: torch.Tensor, pretrained: torch.Tensor | None = None) -> torch.Tensor:
        """(num_nodes,) long [, (num_nodes, pretrained_dim)] -> (num_nodes, irreps_out.dim)."""
        x = self.table(atomic_numbers) + self.project(self.descriptors[atomic_numbers])
        if self.pretrained_dim:
            if pretrained is None:
                raise ValueError("this model needs pretrained node features (keys.NODE_PRETRAINED)")
            x = x + self.pretrained((pretrained - self.pretrained_mean) / self.pretrained_std)
        return x

    def __repr__(self) -> str:
        return f"{self.__class__.__name__} (Z -> {self.irreps_out})"


class RadialBasis(torch.nn.Module):
    """Edge lengths -> ``num_basis`` Bessel functions that go smoothly to zero at the cutoff."""

    def __init__(self, cutoff_ang: float, num_basis: int):
        super().__init__()
        self.cutoff_ang = float(cutoff_ang)
        self.num_basis = int(num_basis)

    def forward(self, lengths: torch.Tensor) -> torch.Tensor:
        """(num_edges,) Å -> (num_edges, num_basis)."""
        basis = soft_one_hot_linspace(lengths, 0.0, self.cutoff_ang, self.num_basis, basis="bessel", cutoff=True)
        return basis * self.num_basis**0.5

    def __repr__(self) -> str:
        return f"{self.__class__.__name__} (cutoff {self.cutoff_ang:g} Å, {self.num_basis} Bessel)"


class EdgeSphericalHarmonics(torch.nn.Module):
    """Edge vectors -> spherical harmonics up to ``lmax`` (component normalised)."""

    def __init__(self, lmax: int):
        super().__init__()
        self.irreps_out = o3.Irreps.spherical_harmonics(lmax)
        self.sh = o3.SphericalHarmonics(self.irreps_out, normalize=True, normalization="component")

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        """(num_edges, 3) -> (num_edges, irreps_out.dim)."""
        return self.sh(vectors)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__} (3 -> {self.irreps_out})"
