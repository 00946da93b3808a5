"""Invariant inputs of the network: atom types and edge geometry."""

from __future__ import annotations

import math

import numpy as np
import torch
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
    """Z -> ``{num_features}x0e``: a learned per-element vector plus a projection of physical descriptors."""

    def __init__(self, num_features: int):
        super().__init__()
        self.irreps_out = o3.Irreps(f"{num_features}x0e")
        self.table = torch.nn.Embedding(MAX_Z + 1, num_features)
        self.register_buffer("descriptors", torch.tensor(element_descriptors(), dtype=torch.get_default_dtype()))
        self.project = torch.nn.Linear(self.descriptors.shape[1], num_features)

    def forward(self, atomic_numbers: torch.Tensor) -> torch.Tensor:
        """(num_nodes,) long -> (num_nodes, irreps_out.dim)."""
        return self.table(atomic_numbers) + self.project(self.descriptors[atomic_numbers])

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
