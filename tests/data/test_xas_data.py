"""Site-spectrum data sets: the OmniXAS Cu K-edge folder as shipped, and equispec's own layout."""

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from equispec import keys
from equispec.data.absorbers import absorbing_sites
from equispec.data.xas import omnixas_grid_ev, read_xas_dataset, write_xas_dataset
from equispec.data.xas_graphs import dataset_graphs, graph_row_order
from equispec.errors import InputError


@pytest.fixture(scope="module")
def omnixas(xas_cu_folder):
    return read_xas_dataset(xas_cu_folder)


def test_omnixas_folder_counts_grid_and_withheld_test_sites(omnixas):
    counts = {split: int((omnixas.split == split).sum()) for split in set(omnixas.split)}
    assert counts == {"train": 3340, "val": 416, "outlier": 1127, "test": 416}
    np.testing.assert_allclose(omnixas.energy_ev, np.linspace(8983.173, 9018.173, 141))
    np.testing.assert_allclose(omnixas.energy_ev, omnixas_grid_ev("Cu"))
    test = omnixas.split_rows("test")
    assert np.isnan(test.spectrum).all()  # withheld: listed for prediction, never scored here
    assert not np.isnan(omnixas.split_rows("val").spectrum).any()
    assert set(omnixas.absorbing_element) == {"Cu"} and set(omnixas.edge) == {"K"}


def test_every_listed_site_is_a_cu_atom(omnixas):
    rows = omnixas.split_rows("val")
    for material, site in list(zip(rows.material_id, rows.site_index))[:60]:
        assert omnixas.structure(material)[int(site)].specie.symbol == "Cu"


def test_graphs_carry_the_spectra_of_their_sites_in_row_order(omnixas):
    rows = omnixas.split_rows("val")
    rows = rows.select(np.isin(rows.material_id, rows.materials()[:12]))
    graphs = dataset_graphs(rows, 5.0, progress=False)
    assert len(graphs) == 12
    targets = np.concatenate([g[keys.NODE_TARGET][g[keys.ABSORBER_MASK]].numpy() for g in graphs])
    np.testing.assert_allclose(targets, rows.spectrum[graph_row_order(rows)], rtol=1e-6)
    assert sum(int(g[keys.ABSORBER_MASK].sum()) for g in graphs) == len(rows)


def test_site_graphs_survive_the_graph_store(tmp_path, omnixas):
    """Masks (bool), per-site targets with NaN rows and per-graph edges come back from the on-disk store."""
    import torch

    from equispec.data.graph_store import GraphStore

    rows = omnixas.split_rows("val")
    rows = rows.select(np.isin(rows.material_id, rows.materials()[:4]))
    graphs = dataset_graphs(rows, 5.0, progress=False)
    store = GraphStore.write(graphs, [g[keys.STRUCTURE_ID] for g in graphs], tmp_path / "store", key="xas")
    for original, loaded in zip(graphs, store):
        assert loaded[keys.STRUCTURE_ID] == original[keys.STRUCTURE_ID]
        for key in (keys.ABSORBER_MASK, keys.NODE_TARGET, keys.ABSORPTION_EDGE, keys.EDGE_INDEX, keys.POSITIONS):
            assert loaded[key].dtype == original[key].dtype
            assert torch.equal(loaded[key].nan_to_num(-1.0) if loaded[key].is_floating_point() else loaded[key],
                               original[key].nan_to_num(-1.0) if original[key].is_floating_point() else original[key])


def test_equispec_layout_round_trip(tmp_path, omnixas):
    part = omnixas.select(np.isin(omnixas.split, ["val"]))
    write_xas_dataset(tmp_path / "set", part)
    again = read_xas_dataset(tmp_path / "set")
    assert len(again) == len(part) and set(again.poscars) == set(part.materials())
    np.testing.assert_array_equal(again.spectrum, part.spectrum)
    np.testing.assert_array_equal(again.material_id, part.material_id)
    assert again.structure(again.material_id[0]) == part.structure(part.material_id[0])


def test_bad_folders_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such folder"):
        read_xas_dataset(tmp_path / "missing")
    with pytest.raises(InputError, match="not an XAS data folder"):
        read_xas_dataset(tmp_path)
    (tmp_path / "xas_spectra.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable .npz"):
        read_xas_dataset(tmp_path)


def test_absorbing_sites_orbits_and_missing_absorber():
    cuprite = Structure(Lattice.cubic(4.27), ["O", "O", "Cu", "Cu", "Cu", "Cu"],
                        [[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25], [0.75, 0.75, 0.25], [0.75, 0.25, 0.75],
                         [0.25, 0.75, 0.75]])
    assert absorbing_sites(cuprite, "Cu") == ([2], [4])
    with pytest.raises(InputError, match="has no Cu atom"):
        absorbing_sites(Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]]), "Cu", "Si.cif")
