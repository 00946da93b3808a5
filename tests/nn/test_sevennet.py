"""The batched SevenNet module against sevenn's own ASE calculator (today's featurizer and physics forces)."""

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from equispec.data.datasets import read_phdos_csv
from equispec.nn.pretrained import float32_default, get_featurizer, sevennet_calculator
from equispec.errors import InputError
from equispec.nn.pretrained import inversion_permutation, load_sevennet, sevennet_graph, supercell_forces
from equispec.physics.forces import displaced_forces
from equispec.physics.phonopy_dos import supercell_matrix
from tests.conftest import EXAMPLES

BLOCKS, CHANNELS = 5, 128


def calculator_features(structure: Structure) -> np.ndarray:
    """The featurizer before issue 13: the ASE calculator on the structure and on its mirror image (lattice
    negated), the first 128 channels of each block's gate output captured by hooks, then averaged."""
    calculator = sevennet_calculator("7net-0")
    captured = {}
    hooks = [calculator.model._modules[f"{b}_equivariant_gate"].register_forward_hook(
        lambda module, inputs, output, b=b: captured.__setitem__(b, output["x"][:, :CHANNELS].detach()))
        for b in range(BLOCKS)]
    from pymatgen.io.ase import AseAtomsAdaptor

    try:
        features = []
        mirror = Structure(Lattice(-structure.lattice.matrix), structure.species, structure.frac_coords)
        for copy in (structure, mirror):
            atoms = AseAtomsAdaptor.get_atoms(copy)
            atoms.calc = calculator
            with float32_default():
                atoms.get_potential_energy()
            features.append(torch.cat([captured[b] for b in range(BLOCKS)], dim=1).numpy())
    finally:
        for hook in hooks:
            hook.remove()
    return (0.5 * (features[0] + features[1])).astype(np.float32)


@pytest.fixture(scope="module")
def varied_structures(phdos_csv):
    """Centrosymmetric and not, one atom, five elements, a 54-atom cell with every atom moved."""
    table = read_phdos_csv(phdos_csv)
    many = max(table.structures, key=lambda s: len(s.composition.elements))
    silicon = Structure.from_file(str(EXAMPLES / "Si.cif")) * (3, 3, 3)
    moves = np.random.default_rng(0).normal(scale=0.05, size=(len(silicon), 3))
    large = Structure(silicon.lattice, silicon.species, silicon.cart_coords + moves, coords_are_cartesian=True)
    structures = {name: Structure.from_file(str(EXAMPLES / f"{name}.cif"))
                  for name in ("Cu", "NaCl", "GaAs", "SrTiO3", "Cu2O")}
    structures.update(many_elements=many, large=large)
    return structures


def test_varied_set_has_what_it_claims(varied_structures):
    assert len(varied_structures["Cu"]) == 1
    assert len(varied_structures["many_elements"].composition.elements) >= 5
    assert len(varied_structures["large"]) == 54
    graphs = {name: sevennet_graph(s, 5.0) for name, s in varied_structures.items()}
    assert graphs["NaCl"].inversion is not None and graphs["SrTiO3"].inversion is not None
    assert graphs["GaAs"].inversion is None and graphs["large"].inversion is None


def test_batched_features_equal_the_calculator_features(varied_structures):
    names = list(varied_structures)
    structures = [varied_structures[n] for n in names]
    batched = get_featurizer("sevennet-0").batch(structures, names)
    for name, structure, features in zip(names, structures, batched):
        reference = calculator_features(structure)
        assert features.shape == reference.shape == (len(structure), BLOCKS * CHANNELS)
        assert features.dtype == np.float32
        np.testing.assert_allclose(features, reference, rtol=1e-5, atol=1e-5, err_msg=name)


def test_small_batches_give_the_same_features(varied_structures):
    blocks = load_sevennet("7net-0")
    graphs = [blocks.graph(s) for s in varied_structures.values()]
    together = blocks.features(graphs)
    apart = blocks.features(graphs, max_edges=1)  # every pass holds one graph (or one mirror image)
    for a, b in zip(together, apart):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_inversion_shortcut_equals_the_mirror_pass(varied_structures):
    blocks = load_sevennet("7net-0")
    graph = blocks.graph(varied_structures["SrTiO3"])
    assert graph.inversion is not None
    shortcut = blocks.features([graph])[0]
    graph.inversion = None  # now the mirror image goes through the network
    np.testing.assert_allclose(shortcut, blocks.features([graph])[0], rtol=1e-5, atol=1e-5)


def test_inversion_permutation():
    nacl = Structure.from_file(str(EXAMPLES / "NaCl.cif"))
    permutation = inversion_permutation(nacl)
    assert permutation is not None and sorted(permutation) == list(range(len(nacl)))
    assert inversion_permutation(Structure.from_file(str(EXAMPLES / "GaAs.cif"))) is None
    moved = nacl * (2, 1, 1)
    moved.translate_sites([0], [1e-3, 0, 0], frac_coords=False)
    assert inversion_permutation(moved) is None  # centrosymmetric only to 1e-3 Å: two passes


def test_unknown_element_is_an_input_error():
    blocks = load_sevennet("7net-0")
    with pytest.raises(InputError, match="element Og is not known to 7net-0"):
        blocks.graph(Structure(Lattice.cubic(3.0), ["Og"], [[0, 0, 0]]), "og.cif")


def _force_constants(structure: Structure, calculator) -> np.ndarray:
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    unit = PhonopyAtoms(symbols=[s.specie.symbol for s in structure], cell=structure.lattice.matrix,
                        scaled_positions=structure.frac_coords)
    phonon = Phonopy(unit, supercell_matrix=np.diag(supercell_matrix(structure, 10.0)), primitive_matrix="P")
    phonon.generate_displacements(distance=0.01)
    forces = displaced_forces(phonon.supercells_with_displacements, calculator)
    phonon.forces = forces - forces.mean(axis=1, keepdims=True)
    phonon.produce_force_constants()
    phonon.symmetrize_force_constants()
    return phonon.force_constants, len(phonon.supercells_with_displacements)


@pytest.mark.parametrize("name", ["Si", "GaAs"])
def test_batched_force_constants_equal_the_calculator_ones(name, one_thread):
    structure = Structure.from_file(str(EXAMPLES / f"{name}.cif"))
    batched, cells = _force_constants(structure, None)
    reference, _ = _force_constants(structure, sevennet_calculator("7net-0"))
    assert cells == (1 if name == "Si" else 2)
    assert np.abs(reference).max() > 1.0  # eV/Å^2: a real comparison
    np.testing.assert_allclose(batched, reference, rtol=0, atol=1e-6)


def calculator_forces(calculator, cells) -> np.ndarray:
    """The reference: a potential's own ASE calculator, one cell at a time."""
    forces = []
    for atoms in cells:
        atoms.calc = calculator
        forces.append(atoms.get_forces())
    return np.stack(forces)


def test_supercell_forces_of_the_l3i5_potential_equal_its_calculator(one_thread):
    from ase.build import bulk
    from sevenn.calculator import SevenNetCalculator

    cells = [bulk("GaAs", "zincblende", a=5.65).repeat((2, 2, 2)) for _ in range(2)]
    cells[0].positions[0] += [0.02, 0.0, 0.0]
    cells[1].positions[3] += [0.0, -0.03, 0.01]
    forces = supercell_forces(cells, "7net-l3i5")
    with float32_default():
        reference = calculator_forces(SevenNetCalculator("7net-l3i5", device="cpu"), cells)
    assert forces.shape == (2, 16, 3) and np.abs(forces).max() > 1e-2
    np.testing.assert_allclose(forces, reference, rtol=0, atol=1e-6)


@pytest.mark.parametrize("modality", ["R2SCAN", "PBE"])
def test_multi_fidelity_forces_equal_its_calculator_at_each_fidelity(one_thread, modality):
    """SevenNet-MF-0 reads its fidelity per graph: the batched pass must match sevenn's calculator at the same
    modality, and the two fidelities must differ (otherwise the modality was never read)."""
    from ase.build import bulk
    from sevenn.calculator import SevenNetCalculator

    cells = [bulk("Al", "fcc", a=4.05).repeat((2, 2, 2)) for _ in range(2)]
    cells[0].positions[0] += [0.02, 0.0, 0.0]
    cells[1].positions[5] += [0.0, -0.03, 0.01]
    forces = supercell_forces(cells, "7net-mf-0", modality=modality)
    with float32_default():
        reference = calculator_forces(SevenNetCalculator("7net-mf-0", device="cpu", modal=modality), cells)
    np.testing.assert_allclose(forces, reference, rtol=0, atol=1e-6)
    other = supercell_forces(cells, "7net-mf-0", modality="PBE" if modality == "R2SCAN" else "R2SCAN")
    assert np.abs(forces - other).max() > 1e-3


def test_chgnet_forces_equal_its_own_calculator(one_thread):
    """CHGNet's batched predictions (several supercells per pass) against its ASE calculator, cell by cell."""
    pytest.importorskip("chgnet")
    from ase.build import bulk
    from chgnet.model.dynamics import CHGNetCalculator
    from phonopy.structure.atoms import PhonopyAtoms

    from equispec.physics.forces import _chgnet

    cells = [bulk("Si", "diamond", a=5.43).repeat((2, 1, 1)) for _ in range(3)]
    for k, atoms in enumerate(cells):
        atoms.positions[k] += [0.02, -0.01 * k, 0.0]
    phonopy_cells = [PhonopyAtoms(symbols=a.get_chemical_symbols(), cell=a.cell[:],
                                  scaled_positions=a.get_scaled_positions()) for a in cells]
    forces = displaced_forces(phonopy_cells, potential="chgnet")
    reference = calculator_forces(CHGNetCalculator(_chgnet("0.3.0", "cpu"), use_device="cpu"), cells)
    assert forces.shape == (3, 4, 3) and np.abs(forces).max() > 1e-2
    # float32 sums over the same graphs in another batch layout: differences of a few 1e-6 eV/Å (measured 4e-6)
    np.testing.assert_allclose(forces, reference, rtol=0, atol=2e-5)
