"""Thin heads that turn backbone node features into a spectrum."""

from __future__ import annotations

import torch
from e3nn import o3

from .. import keys
from ..data.graphs import graph_index
from ..nn import AtomwiseReadout, RadialSpeciesDistribution
from ..nn.embedding import MAX_Z

__all__ = ["PhononDosHead", "SiteSpectrumHead"]


def max_normalised(per_atom: torch.Tensor, total: torch.Tensor, batch: torch.Tensor):
    """Divide each graph's total spectrum, and its atoms' contributions, by the total's maximum (the labels'
    normalisation): returns (per_atom, total, scale) with scale (num_graphs, 1)."""
    scale = total.amax(dim=1, keepdim=True).clamp_min(1e-8)
    return per_atom / scale[batch], total / scale, scale


def normalised_sum(per_atom: torch.Tensor, batch: torch.Tensor, num_graphs: int):
    """Sum per-atom spectra over each graph and divide by the maximum: returns (per_atom, total) scaled."""
    total = per_atom.new_zeros(num_graphs, per_atom.shape[1]).index_add_(0, batch, per_atom)
    return max_normalised(per_atom, total, batch)[:2]


class PhononDosHead(torch.nn.Module):
    """Node features -> non-negative per-atom DOS contributions -> max-normalised DOS per graph.

    The total DOS is extensive (a sum over atoms) and the data are divided by their maximum, so the
    prediction is invariant to the choice of cell (primitive or supercell). ``NODE_OUTPUT`` holds each
    atom's contribution on the same scale, so that summing it per element gives partial DOS that add
    up to the total.

    Output irreps: ``{n_bins}x0e`` per graph.
    """

    def __init__(self, irreps_in, n_bins: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.readout = AtomwiseReadout(irreps_in, n_bins, hidden, dropout)
        self.irreps_in = self.readout.irreps_in
        self.irreps_out = o3.Irreps(f"{n_bins}x0e")
        self.n_bins = n_bins

    def forward(self, data, out: dict) -> dict:
        features = out[keys.NODE_FEATURES]
        batch = graph_index(data, len(features), features)
        num_graphs = int(data[keys.CELL].shape[0])
        per_atom = torch.relu(self.readout(features))
        out[keys.NODE_OUTPUT], out[keys.GRAPH_OUTPUT] = normalised_sum(per_atom, batch, num_graphs)
        return out

    def __repr__(self) -> str:
        return f"{self.__class__.__name__} ({self.irreps_in} -> {self.irreps_out} per graph)"


class SiteSpectrumHead(torch.nn.Module):
    """Node features at the absorbing atoms -> one X-ray absorption spectrum per absorber.

    A K-edge XANES spectrum belongs to one absorbing atom, so the readout runs only on the nodes in
    ``ABSORBER_MASK``. Its invariant input is the sum of
    - a linear map of the backbone's features at the absorber onto ``hidden`` scalars,
    - a learned projection of the absorber's element-resolved radial distribution (edges up to
      ``env_cutoff_ang``; see :class:`~equispec.nn.RadialSpeciesDistribution`), and
    - embeddings of the absorbing element and of the edge (``ABSORPTION_EDGE``), so that one model
      can hold several elements and edges,
    followed by an MLP. Its output, times ``output_scale``, is added to a fixed offset (the mean training
    spectrum, see :meth:`set_offset`), so that the MLP learns O(1) deviations while the model speaks the
    units of the data.

    Writes ``SITE_NODE`` and ``SITE_OUTPUT`` (``{n_out}x0e`` per absorber) and ``GRAPH_OUTPUT``: the
    average over each graph's absorbers, weighted by ``SITE_WEIGHT`` when the graph has it.
    """

    def __init__(self, irreps_in, n_out: int, hidden: int, env_cutoff_ang: float, num_edges: int,
                 dropout: float = 0.0, output_scale: float = 1.0):
        super().__init__()
        self.irreps_in = o3.Irreps(irreps_in)
        self.irreps_out = o3.Irreps(f"{n_out}x0e")
        self.site = o3.Linear(self.irreps_in, f"{hidden}x0e")
        self.environment = RadialSpeciesDistribution(env_cutoff_ang)
        self.environment_projection = torch.nn.Sequential(torch.nn.LayerNorm(self.environment.dim),
                                                          torch.nn.Linear(self.environment.dim, hidden))
        self.absorber = torch.nn.Embedding(MAX_Z + 1, hidden)
        self.edge = torch.nn.Embedding(num_edges, hidden)
        self.mlp = torch.nn.Sequential(torch.nn.SiLU(), torch.nn.Dropout(dropout), torch.nn.Linear(hidden, hidden),
                                       torch.nn.SiLU(), torch.nn.Dropout(dropout), torch.nn.Linear(hidden, n_out))
        self.output_scale = float(output_scale)
        self.register_buffer("offset", torch.zeros(n_out))

    def set_offset(self, spectrum: torch.Tensor) -> None:
        """Predict deviations from ``spectrum`` (the mean training spectrum): the MLP starts at a sensible
        answer instead of zero."""
        self.offset.copy_(spectrum)

    def forward(self, data, out: dict) -> dict:
        features = out[keys.NODE_FEATURES]
        num_nodes = len(features)
        sites = torch.nonzero(data[keys.ABSORBER_MASK], as_tuple=True)[0]
        z = data[keys.ATOMIC_NUMBERS]
        edge_index = data[keys.EDGE_INDEX]
        to_site = data[keys.ABSORBER_MASK][edge_index[1]]
        environment = self.environment(out[keys.EDGE_LENGTHS][to_site], edge_index[:, to_site], z, num_nodes)[sites]
        environment = torch.log1p(environment)  # neighbour counts span orders of magnitude across the radial grid
        batch = graph_index(data, num_nodes, features)
        h = (self.site(features[sites]) + self.environment_projection(environment) + self.absorber(z[sites])
             + self.edge(data[keys.ABSORPTION_EDGE][batch[sites]]))
        spectra = self.offset + self.mlp(h) * self.output_scale
        out[keys.SITE_NODE], out[keys.SITE_OUTPUT] = sites, spectra
        weight = data[keys.SITE_WEIGHT][sites] if keys.SITE_WEIGHT in data else torch.ones_like(spectra[:, 0])
        num_graphs = int(data[keys.CELL].shape[0])
        total = spectra.new_zeros(num_graphs, spectra.shape[1]).index_add_(0, batch[sites], weight[:, None] * spectra)
        norm = weight.new_zeros(num_graphs).index_add_(0, batch[sites], weight).clamp_min(1e-12)
        out[keys.GRAPH_OUTPUT] = total / norm[:, None]
        return out

    def __repr__(self) -> str:
        return f"{self.__class__.__name__} ({self.irreps_in} at absorbers -> {self.irreps_out} per site)"
