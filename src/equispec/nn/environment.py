"""A fixed, invariant description of each atom's neighbourhood: the element-resolved radial distribution."""

from __future__ import annotations

import numpy as np
import torch

from .embedding import element_descriptors

__all__ = ["RadialSpeciesDistribution"]


class RadialSpeciesDistribution(torch.nn.Module):
    """Edges -> per centre atom, ``sum_j g_k(r_ij) d(Z_j)``: Gaussians on a radial grid times element descriptors.

    XANES is scattering of the photoelectron off the shells around the absorber, so which elements sit at
    which distances is the leading information. Resolving neighbours by physical descriptors (a constant,
    1/sqrt(mass), mass, electronegativity, radius, period, group) rather than by one-hot species keeps the
    descriptor small and lets rare neighbours borrow from similar ones. A cosine envelope takes each edge
    smoothly to zero at the cutoff. Output: ``{num_gaussians * 7}x0e`` per node (invariant by construction).
    """

    def __init__(self, cutoff_ang: float, num_gaussians: int = 48, r_min_ang: float = 1.0, width_ang: float = 0.15):
        super().__init__()
        self.cutoff_ang = float(cutoff_ang)
        self.register_buffer("centres", torch.linspace(r_min_ang, cutoff_ang, num_gaussians))
        self.width_ang = float(width_ang)
        table = element_descriptors()
        table = np.concatenate([np.ones((len(table), 1)), table], axis=1)
        self.register_buffer("descriptors", torch.tensor(table, dtype=torch.get_default_dtype()))
        self.dim = num_gaussians * table.shape[1]

    def forward(self, lengths: torch.Tensor, edge_index: torch.Tensor, atomic_numbers: torch.Tensor,
                num_nodes: int) -> torch.Tensor:
        """(num_edges,) Å, (2, num_edges), (num_nodes,) -> (num_nodes, dim)."""
        gauss = torch.exp(-0.5 * ((lengths[:, None] - self.centres[None, :]) / self.width_ang) ** 2)
        envelope = 0.5 * (torch.cos(torch.pi * (lengths / self.cutoff_ang).clamp(max=1.0)) + 1.0)
        per_edge = (gauss * envelope[:, None])[:, :, None] * self.descriptors[atomic_numbers[edge_index[0]]][:, None, :]
        out = per_edge.new_zeros(num_nodes, *per_edge.shape[1:]).index_add_(0, edge_index[1], per_edge)
        return out.reshape(num_nodes, -1)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__} (edges -> {self.dim}x0e, {len(self.centres)} Gaussians "
                f"{self.centres[0]:.1f}-{self.cutoff_ang:.1f} Å)")
