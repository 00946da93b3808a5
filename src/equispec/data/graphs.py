"""Periodic radius graphs: a ``Structure`` becomes a PyG ``Data`` whose edges include lattice images."""

from __future__ import annotations

import numpy as np
import torch
from pymatgen.core import Structure
from torch_geometric.data import Data

from .. import keys
from ..nn.neighbors import periodic_neighbors
from .structures import check_neighbours

__all__ = ["structure_to_graph", "edge_vectors", "graph_index", "periodic_neighbors"]


def structure_to_graph(structure: Structure, cutoff_ang: float, name: str = "structure",
                       target: np.ndarray | None = None) -> Data:
    """Build the periodic radius graph of a crystal.

    Every pair (i, j, image) with ``|r_j + image @ cell - r_i| < cutoff_ang`` becomes an edge j -> i;
    an atom may neighbour its own periodic images. Positions, cell and integer image shifts are
    stored rather than edge vectors, so that the vectors are recomputed from the geometry inside the
    model (and rotating the structure rotates everything consistently).

    Args:
        structure: ordered crystal structure.
        cutoff_ang: radius of the neighbour sphere in Å.
        name: shown in the error if an atom has no neighbour.
        target: optional graph-level target, stored as ``keys.TARGET`` with shape (1, n).

    Returns:
        ``Data`` with the fields listed in ``keys.NODE_FIELDS``, ``EDGE_FIELDS`` and ``CELL``.
    """
    neighbours, centres, images = periodic_neighbors(structure, cutoff_ang)
    if len(np.unique(centres)) < len(structure):
        check_neighbours(structure, cutoff_ang, name)  # raises, naming the lonely atom
    graph = Data(
        **{
            keys.POSITIONS: torch.tensor(structure.cart_coords, dtype=torch.get_default_dtype()),
            keys.ATOMIC_NUMBERS: torch.tensor(structure.atomic_numbers, dtype=torch.long),
            keys.CELL: torch.tensor(structure.lattice.matrix, dtype=torch.get_default_dtype()).unsqueeze(0),
            keys.EDGE_INDEX: torch.from_numpy(np.stack([neighbours, centres])),
            keys.EDGE_CELL_SHIFT: torch.from_numpy(images).to(torch.get_default_dtype()),
        }
    )
    graph.num_nodes = len(structure)
    if target is not None:
        graph[keys.TARGET] = torch.as_tensor(target, dtype=torch.get_default_dtype()).reshape(1, -1)
    return graph


def graph_index(data, num_nodes: int, like: torch.Tensor) -> torch.Tensor:
    """``data.batch`` (graph index of each node), or zeros (on ``like``'s device) for one unbatched graph."""
    if keys.BATCH in data and data[keys.BATCH] is not None:
        return data[keys.BATCH]
    return like.new_zeros(num_nodes, dtype=torch.long)


def edge_vectors(data) -> torch.Tensor:
    """``r_src + shift @ cell - r_dst`` for every edge, (num_edges, 3) in Å, differentiable in positions."""
    src, dst = data[keys.EDGE_INDEX]
    pos = data[keys.POSITIONS]
    edge_cell = data[keys.CELL][graph_index(data, len(pos), dst)[dst]]
    shift = torch.einsum("ei,eij->ej", data[keys.EDGE_CELL_SHIFT].to(pos.dtype), edge_cell.to(pos.dtype))
    return pos[src] + shift - pos[dst]
