"""One interaction layer: convolution followed by a gated non-linearity (Weiler et al. 2018)."""

from __future__ import annotations

import torch
from . import _e3nn  # noqa: F401  (first: e3nn without torch._dynamo)
from e3nn import o3
from e3nn.nn import Gate

from .convolution import Convolution

__all__ = ["GatedInteraction"]


class GatedInteraction(torch.nn.Module):
    """``irreps_in`` -> ``irreps_out`` via Convolution + Gate, with a residual when the irreps agree.

    Scalars (``0e``/``0o``) of ``irreps_out`` pass through SiLU/tanh; every ``l > 0`` irrep is
    multiplied by the sigmoid of an extra scalar "gate" that the convolution also produces.
    """

    def __init__(self, irreps_in, irreps_out, irreps_sh, num_radial: int, radial_hidden: int,
                 avg_num_neighbors: float):
        super().__init__()
        self.irreps_in = o3.Irreps(irreps_in)
        irreps_out = o3.Irreps(irreps_out)
        scalars = o3.Irreps([(m, ir) for m, ir in irreps_out if ir.l == 0])
        gated = o3.Irreps([(m, ir) for m, ir in irreps_out if ir.l > 0])
        act = {1: torch.nn.functional.silu, -1: torch.tanh}
        self.gate = Gate(scalars, [act[ir.p] for _, ir in scalars],
                         f"{gated.num_irreps}x0e" if gated else "", [torch.sigmoid] if gated else [],
                         gated)
        self.irreps_out = self.gate.irreps_out
        self.conv = Convolution(self.irreps_in, irreps_sh, self.gate.irreps_in, num_radial, radial_hidden,
                                avg_num_neighbors)
        self.residual = self.irreps_in == self.irreps_out

    def forward(self, node_features, edge_index, edge_sh, edge_radial) -> torch.Tensor:
        """(num_nodes, irreps_in.dim) -> (num_nodes, irreps_out.dim)."""
        out = self.gate(self.conv(node_features, edge_index, edge_sh, edge_radial))
        return out + node_features if self.residual else out

    def __repr__(self) -> str:
        return f"{self.__class__.__name__} ({self.irreps_in} -> {self.irreps_out})"
