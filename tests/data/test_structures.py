import numpy as np
import pytest
from ase.build import bulk
from pymatgen.core import Lattice, Structure

from equispec.data.graphs import edge_vectors, structure_to_graph
from equispec.data.structures import read_structure, to_structure
from equispec.errors import InputError
from tests.conftest import EXAMPLES


def test_reads_cif_poscar_structure_and_atoms():
    cif, label = to_structure(EXAMPLES / "Si.cif")
    assert label.endswith("Si.cif") and cif.composition.reduced_formula == "Si" and len(cif) == 2
    poscar, _ = to_structure(EXAMPLES / "AlP.POSCAR")
    assert poscar.composition.reduced_formula == "AlP"
    from_atoms, _ = to_structure(bulk("Cu", "fcc", a=3.61))
    assert from_atoms.lattice.volume == pytest.approx(3.61**3 / 4)
    same, label = to_structure(cif, name="mine")
    assert same is cif and label == "mine"


def test_reads_other_ase_formats(tmp_path):
    import ase.io

    path = tmp_path / "nacl.xyz"
    ase.io.write(path, bulk("NaCl", "rocksalt", a=5.64), format="extxyz")
    structure, _ = to_structure(path)
    assert structure.composition.reduced_formula == "NaCl"


@pytest.mark.parametrize("content, message", [
    ("", "file is empty"),
    ("   \n\n", "file is empty"),
    ("this is not a crystal\n", "not a crystal structure"),
])
def test_unreadable_files(tmp_path, content, message):
    path = tmp_path / "bad.cif"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as info:
        read_structure(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_structure(tmp_path / "nope.cif")


def test_no_atoms():
    from ase import Atoms

    with pytest.raises(InputError, match="no atoms"):
        to_structure(Atoms(cell=[3, 3, 3], pbc=True), name="empty")


def test_partial_occupancy(tmp_path):
    disordered = Structure(Lattice.cubic(4.0), [{"Cu": 0.5, "Au": 0.5}], [[0, 0, 0]])
    path = tmp_path / "CuAu.cif"
    disordered.to(filename=str(path))
    with pytest.raises(InputError, match="partial occupancies") as info:
        to_structure(path)
    assert "CuAu.cif" in str(info.value)


def test_atoms_too_close():
    close = Structure(Lattice.cubic(5.0), ["Na", "Cl"], [[0, 0, 0], [0.05, 0, 0]])
    with pytest.raises(InputError, match=r"0\.250 Å apart"):
        to_structure(close, name="close")


def test_isolated_atom_has_no_neighbour():
    lonely = Structure(Lattice.cubic(12.0), ["Si", "Si", "Cs"], [[0, 0, 0], [0.2, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(InputError, match=r"atom 2 \(Cs\) has no neighbour within the 4\.5 Å cutoff"):
        structure_to_graph(lonely, 4.5, "lonely")


def test_graph_includes_periodic_images():
    """A one-atom simple cubic cell: every edge is the atom to its own image, |vector| = a."""
    a = 3.0
    structure = Structure(Lattice.cubic(a), ["Po"], [[0, 0, 0]])
    graph = structure_to_graph(structure, 3.5, "Po")
    vectors = edge_vectors(graph).numpy()
    assert graph.edge_index.shape[1] == 6
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), a, atol=1e-5)
    np.testing.assert_allclose(np.sort(vectors, axis=0).sum(axis=0), 0, atol=1e-5)


def test_edge_vectors_match_pymatgen_distances():
    structure, _ = to_structure(EXAMPLES / "SrTiO3.cif")
    graph = structure_to_graph(structure, 4.5, "SrTiO3")
    _, _, _, distances = structure.get_neighbor_list(4.5)
    lengths = edge_vectors(graph).norm(dim=1).numpy()
    np.testing.assert_allclose(np.sort(lengths), np.sort(distances), atol=1e-4)
    src, dst = graph.edge_index.numpy()
    # each vector points from the centre (dst) to the neighbour (src) image
    for k in range(0, len(src), 17):
        i, j = dst[k], src[k]
        image = structure[j].coords + graph.edge_cell_shift[k].numpy() @ structure.lattice.matrix
        np.testing.assert_allclose(edge_vectors(graph)[k].numpy(), image - structure[i].coords, atol=1e-4)
