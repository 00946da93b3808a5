"""Periodic radius graphs: a ``Structure`` becomes a PyG ``Data`` (training) or a :class:`Graph` (inference)
whose edges include lattice images; :func:`collate` batches either kind as PyG would, without PyG.

PyG is imported only where a ``Data`` is asked for: importing ``torch_geometric`` costs ~0.5 s, which is
most of what a cold ``equispec predict`` of one structure spends outside torch and e3nn (issue 24).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from pymatgen.core import Structure

from .. import keys
from .neighbors import periodic_neighbors
from .structures import check_neighbours

if TYPE_CHECKING:
    from torch_geometric.data import Data

__all__ = ["Graph", "collate", "structure_to_graph", "edge_vectors", "graph_index", "periodic_neighbors"]


class Graph(dict):
    """One graph's fields (``keys`` names -> tensors; ``keys.STRUCTURE_ID`` -> str) without PyG: what the
    models read (``graph[key]``, ``key in graph``) and what :func:`collate` batches. ``graph.num_nodes`` and
    the other fields read as attributes too, as on a PyG ``Data``; :meth:`to_pyg` makes the ``Data``."""

    def __init__(self, num_nodes: int, **fields):
        super().__init__(fields)
        self.num_nodes = int(num_nodes)

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value) -> None:
        if name == "num_nodes":
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def __reduce__(self):  # pickles (DataLoader workers, spawn) with its node count
        return type(self), (self.num_nodes,), None, None, iter(self.items())

    def to_pyg(self) -> "Data":
        """The same fields as a PyG ``Data`` (imports PyG)."""
        from torch_geometric.data import Data

        graph = Data(**self)
        graph.num_nodes = self.num_nodes
        return graph


def _increments(key: str) -> bool:
    """PyG's rule (``Data.__inc__`` / ``__cat_dim__``): a field named ``*index*`` holds node indices; it is
    offset by the nodes of the graphs before it and concatenated along its last axis."""
    return "index" in key or key == "face"


def collate(graphs: list) -> dict:
    """The disjoint union of ``graphs`` (:class:`Graph` or PyG ``Data``), as PyG's ``Batch.from_data_list``
    makes it for equispec's fields: node, edge and graph fields concatenated (``*index*`` fields along their
    last axis, offset by the nodes before them), strings listed, ``keys.BATCH`` the graph of each node.
    Returns a plain ``dict``; the models read nothing else."""
    sizes = [int(g.num_nodes) for g in graphs]
    first = graphs[0]
    batch: dict = {}
    for key in first.keys():
        if key == keys.NUM_NODES:
            continue
        values = [g[key] for g in graphs]
        if not isinstance(values[0], torch.Tensor):
            batch[key] = values
            continue
        if values[0].dim() == 0:
            batch[key] = torch.stack(values)
            continue
        if _increments(key):
            offset, shifted = 0, []
            for value, size in zip(values, sizes):
                shifted.append(value + offset if offset else value)
                offset += size
            batch[key] = torch.cat(shifted, dim=-1)
        else:
            batch[key] = torch.cat(values, dim=0)
    batch[keys.BATCH] = torch.repeat_interleave(torch.arange(len(graphs)), torch.tensor(sizes))
    return batch


def structure_to_graph(structure: Structure, cutoff_ang: float, name: str = "structure",
                       target: np.ndarray | None = None, pyg: bool = True) -> "Data | Graph":
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
        pyg: return a PyG ``Data`` (training's loaders batch them); False: a :class:`Graph`, no PyG import.

    Returns:
        ``Data`` or :class:`Graph` with the fields listed in ``keys.NODE_FIELDS``, ``EDGE_FIELDS`` and ``CELL``.
    """
    neighbours, centres, images = periodic_neighbors(structure, cutoff_ang)
    if len(np.unique(centres)) < len(structure):
        check_neighbours(structure, cutoff_ang, name)  # raises, naming the lonely atom
    graph = Graph(
        len(structure),
        **{
            keys.POSITIONS: torch.tensor(structure.cart_coords, dtype=torch.get_default_dtype()),
            keys.ATOMIC_NUMBERS: torch.tensor(structure.atomic_numbers, dtype=torch.long),
            keys.CELL: torch.tensor(structure.lattice.matrix, dtype=torch.get_default_dtype()).unsqueeze(0),
            keys.EDGE_INDEX: torch.from_numpy(np.stack([neighbours, centres])),
            keys.EDGE_CELL_SHIFT: torch.from_numpy(images).to(torch.get_default_dtype()),
        }
    )
    if target is not None:
        graph[keys.TARGET] = torch.as_tensor(target, dtype=torch.get_default_dtype()).reshape(1, -1)
    return graph.to_pyg() if pyg else graph


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
