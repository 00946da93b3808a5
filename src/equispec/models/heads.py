"""Thin heads that turn backbone node features into a spectrum."""

from __future__ import annotations

import torch
from e3nn import o3

from ..data import keys
from ..data.graphs import graph_index
from ..nn import AtomwiseReadout

__all__ = ["PhononDosHead"]


def normalised_sum(per_atom: torch.Tensor, batch: torch.Tensor, num_graphs: int):
    """Sum per-atom spectra over each graph and divide by the maximum: returns (per_atom, total) scaled."""
    total = per_atom.new_zeros(num_graphs, per_atom.shape[1]).index_add_(0, batch, per_atom)
    scale = total.amax(dim=1, keepdim=True).clamp_min(1e-8)
    return per_atom / scale[batch], total / scale


class PhononDosHead(torch.nn.Module):
    """Node features -> non-negative per-atom DOS contributions -> max-normalised DOS per graph.

    The total DOS is extensive (a sum over atoms) and the data are divided by their maximum, so the
    prediction is invariant to the choice of cell (primitive or supercell). ``NODE_OUTPUT`` holds each
    atom's contribution on the same scale, so that summing it per element gives partial DOS that add
    up to the total.

    With ``atom_sum_rule``, each atom's contribution is a distribution over the bins plus one overflow
    bin for modes above the grid (a softmax), so that every atom carries the same area: the sum rule
    that each atom has three vibrational degrees of freedom. Relative peak heights then follow from
    the stoichiometry, and the network only has to place each atom's spectral weight.

    With ``gamma_aux``, a second readout learns the broadened Γ-point mode spectrum during training
    (``GAMMA_OUTPUT``), an auxiliary task that shares the backbone.

    Output irreps: ``{n_bins}x0e`` per graph.
    """

    def __init__(self, irreps_in, n_bins: int, hidden: int, gamma_aux: bool = False, atom_sum_rule: bool = False,
                 dropout: float = 0.0):
        super().__init__()
        self.atom_sum_rule = atom_sum_rule
        self.readout = AtomwiseReadout(irreps_in, n_bins + 1 if atom_sum_rule else n_bins, hidden, dropout)
        self.gamma_readout = AtomwiseReadout(irreps_in, n_bins, hidden, dropout) if gamma_aux else None
        self.irreps_in = self.readout.irreps_in
        self.irreps_out = o3.Irreps(f"{n_bins}x0e")
        self.n_bins = n_bins

    def forward(self, data, out: dict) -> dict:
        features = out[keys.NODE_FEATURES]
        batch = graph_index(data, len(features), features)
        num_graphs = int(data[keys.CELL].shape[0])
        raw = self.readout(features)
        per_atom = torch.softmax(raw, dim=1)[:, :-1] if self.atom_sum_rule else torch.relu(raw)
        out[keys.NODE_OUTPUT], out[keys.GRAPH_OUTPUT] = normalised_sum(per_atom, batch, num_graphs)
        if self.gamma_readout is not None and self.training:
            _, out[keys.GAMMA_OUTPUT] = normalised_sum(torch.relu(self.gamma_readout(features)), batch, num_graphs)
        return out

    def __repr__(self) -> str:
        return f"{self.__class__.__name__} ({self.irreps_in} -> {self.irreps_out} per graph)"
