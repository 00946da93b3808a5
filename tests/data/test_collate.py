"""``collate`` batches graphs as PyG's ``Batch.from_data_list`` does (issue 24: inference without PyG's import),
for every field equispec's graphs carry: phonon graphs with targets and pretrained features, the fields of
fine-tuned SevenNet blocks (two more index fields) and XAS absorbers."""

from __future__ import annotations

import pickle

import numpy as np
import torch
from pymatgen.core import Lattice, Structure
from torch_geometric.data import Batch

from equispec import keys
from equispec.data.datasets import build_graphs
from equispec.nn.pretrained import fine_tuning_fields
from equispec.data.graphs import Graph, collate, structure_to_graph
from equispec.data.xas_graphs import site_graphs
from equispec.nn.pretrained import BlockInputs, sevennet_graph


def _structures():
    return [Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
            Structure(Lattice.hexagonal(3.2, 5.1), ["Zn", "O", "Zn", "O"],
                      [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.38], [2 / 3, 1 / 3, 0.5], [2 / 3, 1 / 3, 0.88]]),
            Structure(Lattice.cubic(3.6), ["Cu"], [[0, 0, 0]])]


def _bits(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor's bytes (NaN equals NaN; -0.0 differs from 0.0)."""
    return tensor.contiguous().view(torch.uint8) if tensor.dtype != torch.bool else tensor


def _assert_same_as_pyg(graphs):
    ours = collate(graphs)
    theirs = Batch.from_data_list([g.to_pyg() if isinstance(g, Graph) else g for g in graphs])
    expected = {key: theirs[key] for key in theirs.keys() if key not in ("ptr", keys.NUM_NODES)}  # bookkeeping
    assert set(ours) == set(expected)
    for key, value in expected.items():
        if isinstance(value, torch.Tensor):
            assert ours[key].dtype == value.dtype and torch.equal(_bits(ours[key]), _bits(value)), key
        else:
            assert ours[key] == value, key
    return ours


def test_phonon_graphs_batch_as_in_pyg():
    structures = _structures()
    targets = np.random.default_rng(0).random((3, 5))
    features = [np.random.default_rng(k).random((len(s), 8)).astype(np.float32) for k, s in enumerate(structures)]
    graphs = build_graphs(structures, 4.0, ["a", "b", "c"], targets, progress=False, pretrained=features, pyg=False)
    batch = _assert_same_as_pyg(graphs)
    assert batch[keys.BATCH].tolist() == [0, 0, 1, 1, 1, 1, 2]
    assert batch[keys.STRUCTURE_ID] == ["a", "b", "c"]
    # the PyG graphs build_graphs makes by default batch the same way through collate
    pyg = build_graphs(structures, 4.0, ["a", "b", "c"], targets, progress=False, pretrained=features)
    again = collate(pyg)
    assert all(torch.equal(again[k], batch[k]) if isinstance(batch[k], torch.Tensor) else again[k] == batch[k]
               for k in batch)


def test_fine_tuning_fields_batch_as_in_pyg():
    structures = _structures()
    fields = []
    for k, structure in enumerate(structures):
        graph = sevennet_graph(structure, 5.0)
        rng = np.random.default_rng(k)
        mirror = None if graph.inversion is not None else rng.random((len(structure), 6)).astype(np.float32)
        fields.append(fine_tuning_fields(BlockInputs(rng.random((len(structure), 4)).astype(np.float32),
                                                     rng.random((len(structure), 6)).astype(np.float32),
                                                     mirror, graph)))
    graphs = build_graphs(structures, 4.0, ["a", "b", "c"], progress=False, pretrained=fields, pyg=False)
    batch = _assert_same_as_pyg(graphs)
    assert batch[keys.SEVENNET_INVERSION_INDEX].max() < len(batch[keys.BATCH])  # offset into the batch
    assert batch[keys.SEVENNET_CENTROSYMMETRIC].shape == (3,)


def test_xas_site_graphs_batch_as_in_pyg():
    structures = _structures()
    sites = [[0], [0, 2], [0]]
    graphs = site_graphs(structures, ["a", "b", "c"], sites, "K", 4.0, weights=[[1.0], [1.0, 1.0], [1.0]],
                         targets=[np.ones((len(s), 3)) for s in sites], progress=False, pyg=False)
    _assert_same_as_pyg(graphs)


def test_graph_reads_like_a_pyg_data_and_pickles():
    structure = _structures()[1]
    graph = structure_to_graph(structure, 4.0, pyg=False)
    data = structure_to_graph(structure, 4.0)
    assert graph.num_nodes == data.num_nodes == 4
    assert torch.equal(graph.edge_index, data.edge_index) and keys.EDGE_INDEX in graph
    copy = pickle.loads(pickle.dumps(graph))
    assert isinstance(copy, Graph) and copy.num_nodes == 4 and torch.equal(copy[keys.POSITIONS], data.pos)
