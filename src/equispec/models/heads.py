"""Thin heads that turn backbone node features into a spectrum."""

from __future__ import annotations

import torch

from ..data import keys
from ..nn import AtomwiseReadout

__all__ = ["PhononDosHead"]


class PhononDosHead(torch.nn.Module):
    """Node features -> non-negative per-atom DOS contributions -> max-normalised DOS per graph.

    The total DOS is extensive (a sum over atoms) and the data are divided by their maximum, so the
    prediction is invariant to the choice of cell (primitive or supercell). ``NODE_OUTPUT`` holds each
    atom's contribution on the same scale, so that summing it per element gives partial DOS that add
    up to the total.

    Output irreps: ``{n_bins}x0e`` per graph.
    """

    def __init__(self, irreps_in, n_bins: int, hidden: int):
        super().__init__()
        self.readout = AtomwiseReadout(irreps_in, n_bins, hidden)
        self.irreps_in = self.readout.irreps_in
        self.irreps_out = self.readout.irreps_out
        self.n_bins = n_bins

    def forward(self, data, out: dict) -> dict:
        per_atom = torch.relu(self.readout(out[keys.NODE_FEATURES]))
        batch = data[keys.BATCH] if keys.BATCH in data and data[keys.BATCH] is not None else \
            per_atom.new_zeros(len(per_atom), dtype=torch.long)
        num_graphs = int(data[keys.CELL].shape[0])
        total = per_atom.new_zeros(num_graphs, self.n_bins).index_add_(0, batch, per_atom)
        scale = total.amax(dim=1, keepdim=True).clamp_min(1e-8)
        out[keys.NODE_OUTPUT] = per_atom / scale[batch]
        out[keys.GRAPH_OUTPUT] = total / scale
        return out

    def __repr__(self) -> str:
        return f"{self.__class__.__name__} ({self.irreps_in} -> {self.irreps_out} per graph)"
