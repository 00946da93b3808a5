"""Graphs for site-resolved XAS: the structure's periodic graph with its absorbers marked (and, for training,
their spectra as node targets); one graph per material and edge of a site-spectrum data set."""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

from .. import keys
from ..errors import InputError
from .xas import XAS_EDGES, XasDataset

__all__ = ["dataset_graphs", "graph_row_order", "site_graphs"]


def site_graphs(structures: list[Structure], names: list[str], sites: list[list[int]], edge: str, cutoff_ang: float,
                targets: list[np.ndarray] | None = None, weights: list[list[float]] | None = None,
                pretrained: list[np.ndarray] | None = None, progress: bool = True, pyg: bool = True) -> list:
    """Periodic graphs whose absorbers (``sites[i]``, node indices) carry the spectra to learn or predict.

    Args:
        targets: per structure, (len(sites[i]), n) spectra of those sites (``keys.NODE_TARGET``).
        weights: per structure, the weight of each site in the structure's average (``keys.SITE_WEIGHT``).
        pyg: PyG ``Data`` graphs, or (False) PyG-free :class:`~equispec.data.graphs.Graph` dicts (inference).
    """
    import torch

    from .datasets import build_graphs

    if edge not in XAS_EDGES:
        raise InputError(edge, f"unknown absorption edge (known: {', '.join(XAS_EDGES)})")
    graphs = build_graphs(structures, cutoff_ang, names, progress=progress, pretrained=pretrained, pyg=pyg)
    dtype = torch.get_default_dtype()
    for i, graph in enumerate(graphs):
        index = torch.as_tensor(sites[i], dtype=torch.long)
        mask = torch.zeros(graph.num_nodes, dtype=torch.bool)
        mask[index] = True
        graph[keys.ABSORBER_MASK] = mask
        graph[keys.ABSORPTION_EDGE] = torch.tensor([XAS_EDGES.index(edge)])
        if weights is not None:
            weight = torch.zeros(graph.num_nodes, dtype=dtype)
            weight[index] = torch.as_tensor(weights[i], dtype=dtype)
            graph[keys.SITE_WEIGHT] = weight
        if targets is not None:
            target = torch.full((graph.num_nodes, targets[i].shape[1]), float("nan"), dtype=dtype)
            target[index] = torch.as_tensor(targets[i], dtype=dtype)
            graph[keys.NODE_TARGET] = target
    return graphs


def _groups(dataset: XasDataset) -> dict[tuple[str, str], list[int]]:
    """(edge, material) -> row indices sorted by site, in the order graphs are built."""
    groups: dict[tuple[str, str], list[int]] = {}
    for row, (material, edge) in enumerate(zip(dataset.material_id, dataset.edge)):
        groups.setdefault((edge, material), []).append(row)
    ordered = sorted(groups, key=lambda key: key[0])  # stable: materials keep their order within an edge
    return {key: sorted(groups[key], key=lambda r: int(dataset.site_index[r])) for key in ordered}


def graph_row_order(dataset: XasDataset) -> np.ndarray:
    """Row indices of ``dataset`` in the order :func:`dataset_graphs` puts the absorbers (graph, then node)."""
    return np.array([row for rows in _groups(dataset).values() for row in rows], dtype=np.int64)


def dataset_graphs(dataset: XasDataset, cutoff_ang: float, featurize=None, progress: bool = True) -> list:
    """One graph per material and edge of ``dataset``, its listed sites as absorbers.

    ``featurize(structures, material_ids)``: per-atom pretrained features of the materials (or, for a model
    that fine-tunes blocks, their graph fields), e.g. the predictor's ``features``; None for a model without
    them. It is passed in because the pretrained potentials live above the data layer, in ``nn``.
    """
    groups = _groups(dataset)
    names = [material for _, material in groups]
    structures = [dataset.structure(material) for material in names]
    for material, rows, structure in zip(names, groups.values(), structures):
        for row in rows:
            site = int(dataset.site_index[row])
            if not 0 <= site < len(structure) or structure[site].specie.symbol != dataset.absorbing_element[row]:
                raise InputError(dataset.source, f"{material} site {site} is not a {dataset.absorbing_element[row]} atom")
    features = featurize(structures, names) if featurize is not None else None
    graphs = []
    for edge in dict.fromkeys(edge for edge, _ in groups):
        chosen = [k for k, (e, _) in enumerate(groups) if e == edge]
        rows = [list(groups.values())[k] for k in chosen]
        graphs += site_graphs([structures[k] for k in chosen], [names[k] for k in chosen],
                              [[int(dataset.site_index[r]) for r in rs] for rs in rows], edge, cutoff_ang,
                              [dataset.spectrum[rs] for rs in rows], None,
                              None if features is None else [features[k] for k in chosen], progress)
    return graphs
