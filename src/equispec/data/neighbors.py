"""Periodic neighbour lists: the one place equispec asks pymatgen for them (graphs in ``data`` and SevenNet's
own graphs in ``nn.pretrained`` both read them)."""

from __future__ import annotations

import numpy as np

__all__ = ["periodic_neighbors"]


def periodic_neighbors(structure, cutoff_ang: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (j, i, image) with ``|r_j + image @ cell - r_i| < cutoff_ang``, an atom's own periodic
    images included, itself excluded.

    Returns:
        ``(sources, centres, images)``: (num_edges,) int64 neighbours j, (num_edges,) int64 centres i and
        (num_edges, 3) float64 integer lattice images of j.
    """
    centres, sources, images, _ = structure.get_neighbor_list(cutoff_ang)
    return sources.astype(np.int64), centres.astype(np.int64), np.asarray(images, dtype=np.float64)
