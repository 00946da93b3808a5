"""The equivariant backbone shared by every spectrum head: atoms + periodic graph -> node features."""

from __future__ import annotations

import torch
from e3nn import o3

from .. import keys
from ..data.graphs import edge_vectors
from ..nn import AtomEmbedding, EdgeSphericalHarmonics, GatedInteraction, RadialBasis

__all__ = ["EquivariantBackbone", "hidden_irreps"]


def hidden_irreps(mul: int, lmax: int) -> o3.Irreps:
    """``mul`` channels of each natural-parity irrep up to ``lmax``: ``0e + 1o + 2e + ...``."""
    return o3.Irreps([(mul, (l, (-1) ** l)) for l in range(lmax + 1)])


class EquivariantBackbone(torch.nn.Module):
    """Embeds atoms and edges, then applies ``num_layers`` gated interactions.

    Reads ``POSITIONS, ATOMIC_NUMBERS, CELL, EDGE_INDEX, EDGE_CELL_SHIFT`` (and ``BATCH``);
    writes ``EDGE_VECTORS, EDGE_LENGTHS, EDGE_SH, EDGE_RADIAL`` and ``NODE_FEATURES`` with
    ``irreps_out`` into the returned dictionary.

    Args:
        cutoff_ang: neighbour cutoff in Å; must equal the one used to build the graphs.
        num_layers: number of interaction layers.
        mul: channels per irrep in hidden layers.
        lmax: highest angular momentum of hidden features and edge harmonics.
        embed_dim: width of the invariant atom embedding.
        num_radial: number of Bessel functions for edge lengths.
        radial_hidden: hidden width of each radial MLP.
        avg_num_neighbors: mean edges per atom in the training set (normalises message sums).
        pretrained_dim: width of pretrained per-atom features (``NODE_PRETRAINED``) added to the
            atom embedding; 0 for none.
        pretrained_blocks: trainable copies of the last pretrained blocks
            (:class:`equispec.nn.pretrained.trainable.TrainableSevenNetBlocks`); their scalars replace the matching
            trailing columns of ``NODE_PRETRAINED``, which then hold the frozen potential's features.
    """

    def __init__(self, cutoff_ang: float, num_layers: int, mul: int, lmax: int, embed_dim: int,
                 num_radial: int, radial_hidden: int, avg_num_neighbors: float, pretrained_dim: int = 0, pretrained_blocks: torch.nn.Module | None = None):
        super().__init__()
        self.cutoff_ang = float(cutoff_ang)
        self.pretrained_blocks = pretrained_blocks
        self.frozen_dim = pretrained_dim - (pretrained_blocks.irreps_out.dim if pretrained_blocks is not None else 0)
        self.embedding = AtomEmbedding(embed_dim, pretrained_dim)
        self.radial_basis = RadialBasis(cutoff_ang, num_radial)
        self.edge_sh = EdgeSphericalHarmonics(lmax)
        irreps = self.embedding.irreps_out
        layers = []
        for _ in range(num_layers):
            layer = GatedInteraction(irreps, hidden_irreps(mul, lmax), self.edge_sh.irreps_out, num_radial,
                                     radial_hidden, avg_num_neighbors)
            layers.append(layer)
            irreps = layer.irreps_out
        self.layers = torch.nn.ModuleList(layers)
        self.irreps_in = self.embedding.irreps_out
        self.irreps_out = irreps

    def forward(self, data) -> dict:
        vectors = edge_vectors(data)
        lengths = vectors.norm(dim=1)
        out = {
            keys.EDGE_VECTORS: vectors,
            keys.EDGE_LENGTHS: lengths,
            keys.EDGE_SH: self.edge_sh(vectors),
            keys.EDGE_RADIAL: self.radial_basis(lengths),
        }
        pretrained = data[keys.NODE_PRETRAINED] if self.embedding.pretrained_dim else None
        if self.pretrained_blocks is not None:
            pretrained = torch.cat([pretrained[:, : self.frozen_dim],
                                    self.pretrained_blocks(data).to(pretrained.dtype)], dim=1)
        x = self.embedding(data[keys.ATOMIC_NUMBERS], pretrained)
        for layer in self.layers:
            x = layer(x, data[keys.EDGE_INDEX], out[keys.EDGE_SH], out[keys.EDGE_RADIAL])
        out[keys.NODE_FEATURES] = x
        return out

    def __repr__(self) -> str:
        inner = "\n".join(f"  {layer!r}" for layer in self.layers)
        return f"{self.__class__.__name__} ({self.irreps_in} -> {self.irreps_out})\n{inner}"
