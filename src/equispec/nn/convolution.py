"""Point convolution: messages are tensor products of neighbour features with edge harmonics,
weighted by a learned function of the edge (Thomas et al. 2018; NequIP, Batzner et al. 2022)."""

from __future__ import annotations

import torch
from . import _e3nn  # noqa: F401  (first: e3nn without torch._dynamo)
from e3nn import o3
from e3nn.nn import FullyConnectedNet

__all__ = ["Convolution"]


class Convolution(torch.nn.Module):
    """``irreps_in`` node features -> ``irreps_out`` node features by one round of message passing.

    Each message ``x_j ⊗ Y(r_ij)`` uses a channel-wise ("uvu") tensor product whose path weights come
    from an MLP of the edge's radial basis. Messages are summed at the centre, divided by
    ``sqrt(avg_num_neighbors)`` so that activations do not grow with coordination, mixed by a linear
    layer and added to the self-connection.

    Args:
        irreps_in: input node irreps.
        irreps_sh: irreps of the edge spherical harmonics.
        irreps_out: output node irreps (only irreps reachable from ``irreps_in ⊗ irreps_sh`` are fed).
        num_radial: size of the radial basis.
        radial_hidden: hidden width of the radial MLP.
        avg_num_neighbors: mean number of edges per atom in the training data.
    """

    def __init__(self, irreps_in, irreps_sh, irreps_out, num_radial: int, radial_hidden: int,
                 avg_num_neighbors: float):
        super().__init__()
        self.irreps_in = o3.Irreps(irreps_in)
        self.irreps_sh = o3.Irreps(irreps_sh)
        self.irreps_out = o3.Irreps(irreps_out)
        self.avg_num_neighbors = float(avg_num_neighbors)
        wanted = {ir for _, ir in self.irreps_out}

        mid, instructions = [], []
        for i, (mul, ir_in) in enumerate(self.irreps_in):
            for j, (_, ir_sh) in enumerate(self.irreps_sh):
                for ir_out in ir_in * ir_sh:
                    if ir_out in wanted:
                        instructions.append((i, j, len(mid), "uvu", True))
                        mid.append((mul, ir_out))
        if not instructions:
            raise ValueError(f"no path from {self.irreps_in} x {self.irreps_sh} to {self.irreps_out}")
        self.irreps_mid = o3.Irreps(mid)

        self.linear_in = o3.Linear(self.irreps_in, self.irreps_in)
        self.tp = o3.TensorProduct(self.irreps_in, self.irreps_sh, self.irreps_mid, instructions,
                                   shared_weights=False, internal_weights=False)
        self.radial = FullyConnectedNet([num_radial, radial_hidden, self.tp.weight_numel],
                                        torch.nn.functional.silu)
        self.linear_out = o3.Linear(self.irreps_mid, self.irreps_out)
        self.self_connection = o3.Linear(self.irreps_in, self.irreps_out)

    def forward(self, node_features, edge_index, edge_sh, edge_radial) -> torch.Tensor:
        """Args: (num_nodes, irreps_in.dim), (2, num_edges), (num_edges, irreps_sh.dim),
        (num_edges, num_radial). Returns (num_nodes, irreps_out.dim)."""
        src, dst = edge_index
        x = self.linear_in(node_features)
        skip = self.self_connection(node_features)
        messages = self.tp(x[src], edge_sh, self.radial(edge_radial))
        summed = messages.new_zeros(len(node_features), messages.shape[1]).index_add_(0, dst, messages)
        summed = summed / self.avg_num_neighbors**0.5
        return self.linear_out(summed) + skip

    def __repr__(self) -> str:
        return f"{self.__class__.__name__} ({self.irreps_in} x {self.irreps_sh} -> {self.irreps_out})"
