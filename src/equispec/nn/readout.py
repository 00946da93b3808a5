"""Per-atom invariant readout: equivariant features -> ``n_out`` scalars per atom."""

from __future__ import annotations

import torch
from . import _e3nn  # noqa: F401  (first: e3nn without torch._dynamo)
from e3nn import o3

__all__ = ["AtomwiseReadout"]


class AtomwiseReadout(torch.nn.Module):
    """``irreps_in`` -> ``{n_out}x0e``: a linear map onto the scalars, then an MLP (with biases and
    optional dropout) on those scalars.

    Only invariant scalars leave the network, so anything built from this output is invariant under
    rotations, translations and inversion by construction.
    """

    def __init__(self, irreps_in, n_out: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.irreps_in = o3.Irreps(irreps_in)
        self.irreps_out = o3.Irreps(f"{n_out}x0e")
        self.to_scalars = o3.Linear(self.irreps_in, f"{hidden}x0e")
        self.mlp = torch.nn.Sequential(torch.nn.SiLU(), torch.nn.Dropout(dropout), torch.nn.Linear(hidden, hidden),
                                       torch.nn.SiLU(), torch.nn.Dropout(dropout), torch.nn.Linear(hidden, n_out))

    def forward(self, node_features: torch.Tensor) -> torch.Tensor:
        """(num_nodes, irreps_in.dim) -> (num_nodes, n_out)."""
        return self.mlp(self.to_scalars(node_features))

    def __repr__(self) -> str:
        return f"{self.__class__.__name__} ({self.irreps_in} -> {self.irreps_out})"
