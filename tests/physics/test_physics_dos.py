"""The physics mode's pipeline (finite displacements -> force constants -> DOS -> label processing)
against a model with a known answer, and end to end with SevenNet-0 on a real cell."""

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes
from ase.neighborlist import neighbor_list
from phonopy.structure.atoms import atom_data
from pymatgen.core import Lattice, Structure
from scipy import constants

from equispec.data.phdos_processing import PHDOS_GRID_CM1, process_raw_dos
from equispec.physics import PhysicsDosSettings, physics_dos, supercell_matrix


class NearestNeighbourSprings(Calculator):
    """E = sum over nearest-neighbour pairs of k/2 (|r_ij| - r0)^2: an exactly harmonic crystal."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, k_ev_per_ang2: float, r0_ang: float, cutoff_ang: float):
        super().__init__()
        self.k, self.r0, self.cutoff = k_ev_per_ang2, r0_ang, cutoff_ang

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        i, d, vectors = neighbor_list("idD", atoms, self.cutoff)  # every pair listed from both ends
        stretch = d - self.r0
        forces = np.zeros((len(atoms), 3))
        np.add.at(forces, i, (self.k * stretch / d)[:, None] * vectors)
        self.results = {"energy": 0.25 * self.k * float(np.sum(stretch**2)), "forces": forces}


K, A, ELEMENT = 10.0, 2.5, "Al"


def chain_max_frequency_cm1(k_ev_per_ang2: float, mass_amu: float) -> float:
    """Top of a monatomic chain's band, omega_max = 2 sqrt(k/m), in cm^-1 (SI constants from scipy)."""
    omega = 2 * np.sqrt(k_ev_per_ang2 * constants.eV / constants.angstrom**2 / (mass_amu * constants.atomic_mass))
    return omega / (2 * np.pi * constants.c * 100)


@pytest.fixture(scope="module")
def simple_cubic():
    structure = Structure(Lattice.cubic(A), [ELEMENT], [[0, 0, 0]])
    return physics_dos(structure, NearestNeighbourSprings(K, A, 1.2 * A), name="springs")


def test_nearest_neighbour_springs_give_three_independent_chains(simple_cubic):
    """Central nearest-neighbour springs on a simple cubic lattice decouple into three monatomic chains
    along x, y, z: g(w) = 3 * 2 / (pi sqrt(w_max^2 - w^2)), whose integral up to w is
    3 * (2/pi) arcsin(w / w_max). Phonopy's tetrahedron DOS must reproduce that distribution."""
    mass = next(row[3] for row in atom_data if row[1] == ELEMENT)
    top = chain_max_frequency_cm1(K, mass)
    assert 400 < top < 900  # inside the label grid
    freq, dos = simple_cubic.raw_freq_cm1, simple_cubic.raw_dos
    cumulative = np.concatenate([[0], np.cumsum(0.5 * (dos[1:] + dos[:-1]) * np.diff(freq))])
    # 3 modes per atom; the tetrahedron method on the 16^3 mesh misses ~1 % at the band-top singularity
    assert cumulative[-1] == pytest.approx(3.0, abs=0.05)
    probe = np.linspace(0.05, 0.95, 19) * top
    expected = 3 * 2 / np.pi * np.arcsin(probe / top)
    assert np.interp(probe, freq, cumulative) == pytest.approx(expected, abs=0.03)
    assert freq[dos > 1e-3 * dos.max()].max() == pytest.approx(top, rel=0.01)
    assert simple_cubic.imaginary_fraction == 0 and simple_cubic.supercell == [4, 4, 4]

    # the 51-bin label is that raw DOS put through the data's own processing; its maximum is the chain's
    # van Hove peak at the band top (the label's value there depends on how each method rounds the
    # integrable divergence, so it is not compared number for number)
    assert simple_cubic.dos == pytest.approx(process_raw_dos(freq, dos))
    assert simple_cubic.freq_cm1[np.argmax(simple_cubic.dos)] == PHDOS_GRID_CM1[PHDOS_GRID_CM1 <= top][-1]
    assert simple_cubic.freq_cm1 == pytest.approx(PHDOS_GRID_CM1)
    assert sum(simple_cubic.partial_dos.values()) == pytest.approx(simple_cubic.dos)


def test_frequency_scale_stretches_the_spectrum(simple_cubic):
    structure = Structure(Lattice.cubic(A), [ELEMENT], [[0, 0, 0]])
    scaled = physics_dos(structure, NearestNeighbourSprings(K, A, 1.2 * A), partial=False,
                         settings=PhysicsDosSettings(frequency_scale=1.1))
    top = lambda r: r.raw_freq_cm1[r.raw_dos > 1e-3 * r.raw_dos.max()].max()
    assert top(scaled) == pytest.approx(1.1 * top(simple_cubic), rel=0.01)
    assert np.trapezoid(scaled.raw_dos, scaled.raw_freq_cm1) == pytest.approx(3.0, abs=0.05)
    assert scaled.partial_dos == {}


def test_unstable_lattice_reports_imaginary_modes():
    """Springs stretched at rest (r0 > a) pull neighbours apart: negative force constants, imaginary modes."""
    structure = Structure(Lattice.cubic(A), [ELEMENT], [[0, 0, 0]])
    result = physics_dos(structure, NearestNeighbourSprings(-K, A, 1.2 * A), partial=False)
    assert result.imaginary_fraction > 0.9 and result.min_frequency_cm1 < -100


def test_supercell_is_about_ten_angstrom():
    structure = Structure(Lattice.from_parameters(3.0, 4.2, 11.0, 90, 90, 120), ["Si"], [[0, 0, 0]])
    assert supercell_matrix(structure, 10.0) == [4, 3, 1]


def test_sevennet_silicon_end_to_end():
    """A real 2-atom cell with SevenNet-0 forces: no imaginary modes, 6 modes, and the optical peak
    in the right region (DFPT: ~480-520 cm^-1; universal potentials are known to be softer)."""
    silicon = Structure.from_file(str(__import__("tests.conftest", fromlist=["EXAMPLES"]).EXAMPLES / "Si.cif"))
    result = physics_dos(silicon, name="Si")
    assert result.imaginary_fraction == 0
    assert np.trapezoid(result.raw_dos, result.raw_freq_cm1) == pytest.approx(6.0, abs=0.05)
    assert 380 <= result.freq_cm1[np.argmax(result.dos)] <= 540
    assert set(result.partial_dos) == {"Si"} and result.dos.max() == pytest.approx(1.0)


def test_combine_dos_weights_and_renormalises():
    from equispec.models.hybrid import combine_dos

    network, physics = np.array([0.0, 1.0, 0.5]), np.array([0.0, 0.2, 1.0])
    total, partial = combine_dos(network, {"Si": network}, physics, {"Si": physics}, 1.0)
    assert total == pytest.approx(network) and partial["Si"] == pytest.approx(network)
    total, partial = combine_dos(network, {"Si": network}, physics, {"Si": physics}, 0.5)
    assert total == pytest.approx([0.0, 0.8, 1.0]) and partial["Si"] == pytest.approx(total)


@pytest.mark.slow
def test_physics_mode_through_the_cli(tmp_path):
    import json

    from equispec.cli.main import main
    from tests.conftest import EXAMPLES

    assert main(["predict", str(EXAMPLES / "Si.cif"), "--mode", "physics", "-o", str(tmp_path / "si.json")]) == 0
    record = json.loads((tmp_path / "si.json").read_text())[0]
    assert record["mode"] == "physics" and record["imaginary_fraction"] == 0.0
    assert set(record["partial_dos"]) == {"Si"} and max(record["dos"]) == pytest.approx(1.0)
    # every output names what made it: potential (the hybrid's by default), its version, supercell, displacement
    physics = record["physics"]
    record = physics["potential_record"]
    assert physics["potential"] == "7net-l3i5" and record["sevenn_version"] and len(record["weights_sha256"]) == 64
    assert physics["supercell"] == [3, 3, 3] and physics["displacement_ang"] == 0.01 and physics["relax"] is False
    # the rerun reads the default physics cache (the test's own EQUISPEC_CACHE_DIR) and writes a CSV whose
    # header says the same
    import os
    from pathlib import Path

    assert len(list((Path(os.environ["EQUISPEC_CACHE_DIR"]) / "physics").rglob("*.npz"))) == 1
    assert main(["predict", str(EXAMPLES / "Si.cif"), "--mode", "physics", "-o", str(tmp_path / "si.csv")]) == 0
    header = (tmp_path / "si.csv").read_text().splitlines()[0]
    assert header.startswith(f"# {EXAMPLES / 'Si.cif'}: mode=physics potential=7net-l3i5 ") and "supercell=3x3x3" in header
    # XAS models have no physics mode: one-line error, exit status 2
    assert main(["predict", str(EXAMPLES / "Cu.cif"), "--model", "xas-cu-k", "--mode", "physics"]) == 2


@pytest.mark.slow
def test_hybrid_mode_is_the_fitted_combination_of_network_and_physics(one_thread):
    """``--mode hybrid`` = w * network + (1 - w) * physics(frequencies x s), with (s, w) and the potential
    from the shipped model's ``hybrid`` record (fitted on training materials by scripts/recipes/fit_hybrid.py). One
    thread: two physics runs on two threads differ by ~1.5e-4 in this DOS (measured with 7net-l3i5)."""
    from equispec.api import load_model
    from equispec.models.hybrid import combine_dos
    from tests.conftest import EXAMPLES

    hybrid = load_model("phdos", mode="hybrid")
    record = hybrid.info.hybrid
    assert 0.9 <= record.frequency_scale <= 1.3 and 0 <= record.network_weight <= 1
    silicon = EXAMPLES / "Si.cif"
    result = hybrid.predict(silicon)[0]
    fast = load_model("phdos").predict(silicon)[0]
    physics = physics_dos(Structure.from_file(str(silicon)), name="Si",
                          settings=PhysicsDosSettings(frequency_scale=record.frequency_scale,
                                                      potential=record.potential))
    weight = record.network_weight
    if record.learned is not None:  # per-bin weights from the reliability features (equispec.models.hybrid)
        from equispec.models.hybrid import LearnedHybrid, reliability_features

        learned = record.learned
        graphs = hybrid.graphs([Structure.from_file(str(silicon))], ["Si"])
        spread = hybrid.member_predictions(graphs, learned["spread_members"]).std(0)
        features = reliability_features(fast.dos[None], spread, physics.dos[None], [physics.imaginary_fraction],
                                        [["Si"]], learned["element_fractions"])
        weight = LearnedHybrid.from_dict(learned).network_weight(features)[0]
        assert weight.shape == (51,) and ((0 < weight) & (weight < 1)).all()
    expected, _ = combine_dos(fast.dos, {}, physics.dos, {}, weight)
    assert result.mode == "hybrid" and result.dos == pytest.approx(expected, abs=1e-4)
    assert sum(result.partial_dos.values()) == pytest.approx(result.dos, abs=1e-6)


def test_relax_moves_atoms_to_zero_force_at_fixed_cell():
    """Two atoms of a doubled simple cubic spring crystal, one pushed 0.08 Å off its site: with ``relax`` the
    positions return to the ideal lattice (forces below the threshold), the cell stays, and the DOS is the
    undisturbed crystal's."""
    from equispec.physics.phonopy_dos import relax_positions

    ideal = Structure(Lattice.orthorhombic(2 * A, A, A), [ELEMENT, ELEMENT], [[0, 0, 0], [0.5, 0, 0]])
    pushed = ideal.copy()
    pushed.translate_sites([1], [0.08, 0.0, 0.0], frac_coords=False)
    springs = NearestNeighbourSprings(K, A, 1.2 * A)
    settings = PhysicsDosSettings(relax=True)
    relaxed = relax_positions(pushed, springs, settings, "pushed")
    assert relaxed.lattice.matrix == pytest.approx(pushed.lattice.matrix)
    frac = relaxed.frac_coords[1] - relaxed.frac_coords[0]
    separation = relaxed.lattice.get_cartesian_coords(frac - np.round(frac - [0.5, 0, 0]))  # nearest image
    assert separation == pytest.approx([A, 0, 0], abs=1e-3)
    result = physics_dos(pushed, springs, name="pushed", settings=settings, partial=False)
    reference = physics_dos(ideal, springs, name="ideal", partial=False)
    assert result.imaginary_fraction == 0
    assert result.dos == pytest.approx(reference.dos, abs=1e-3)


@pytest.mark.slow
def test_physics_mode_is_deterministic_at_one_thread_and_close_at_two():
    """Two runs on one thread give the same DOS to the last bit. On two threads torch sums SevenNet's messages
    in a varying order: forces then differ by ~7e-7 eV/Å, and the 51-bin DOS by up to 2.5e-4 (measured with
    7net-l3i5 on Si, 3 runs); the bound below leaves 4x. The physics cache makes reruns exact at any count."""
    import torch

    from tests.conftest import EXAMPLES

    silicon = Structure.from_file(EXAMPLES / "Si.cif")
    settings = PhysicsDosSettings(potential="7net-0")
    torch.set_num_threads(1)  # the autouse fixture restores the count
    first, second = (physics_dos(silicon, name="Si", settings=settings, partial=False) for _ in range(2))
    assert np.array_equal(first.phonon.raw_forces, second.phonon.raw_forces)
    assert np.array_equal(first.dos, second.dos) and np.array_equal(first.full_range.dos, second.full_range.dos)
    torch.set_num_threads(2)
    third = physics_dos(silicon, name="Si", settings=settings, partial=False)
    assert np.abs(third.dos - first.dos).max() < 1e-3
