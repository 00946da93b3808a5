"""How physics mode displaces atoms and where its forces run: random snapshots fitted with symfc give the
finite-displacement force constants, the partial DOS comes from one projection, and ``device`` reaches the
potential."""

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from equispec.errors import ModelError
from equispec.physics import PhysicsDosSettings, physics_dos
from tests.physics.test_physics_dos import NearestNeighbourSprings

K, R0 = 10.0, 2.6


def low_symmetry_pair() -> Structure:
    """Two Al atoms in a triclinic cell, nearest neighbours about R0 apart: an exactly harmonic crystal
    (central springs) with no symmetry to reduce the displacements."""
    frac = np.array([[0.0, 0.0, 0.0], [0.505, 0.49, 0.01]])
    return Structure(Lattice.from_parameters(3.6, 3.7, 3.8, 88, 91, 93), ["Al", "Al"], frac)


def test_random_snapshots_give_the_finite_force_constants():
    """Central springs are harmonic up to the geometric nonlinearity of |r|: the +/- pairs of both schemes
    cancel the odd orders, so the two fits differ at order (u / r0)^2 = (0.01 / 2.6)^2 ~ 1.5e-5 (measured
    1.6e-5); 2e-4 leaves a factor ten."""
    calculator = NearestNeighbourSprings(K, R0, 3.2)
    structure = low_symmetry_pair()
    finite = physics_dos(structure, calculator, partial=False, settings=PhysicsDosSettings(supercell_ang=7.0))
    random = physics_dos(structure, calculator, partial=False,
                         settings=PhysicsDosSettings(supercell_ang=7.0, displacements="random"))
    assert finite.phonon.displacement_method == "finite" and random.phonon.displacement_method == "random"
    assert random.num_displacements % 2 == 0  # each snapshot with its mirror
    reference = finite.phonon.force_constants
    assert np.linalg.norm(random.phonon.force_constants - reference) / np.linalg.norm(reference) < 2e-4
    assert random.dos == pytest.approx(finite.dos, abs=5e-3)


def test_random_snapshots_are_seeded():
    calculator = NearestNeighbourSprings(K, R0, 3.2)
    settings = PhysicsDosSettings(supercell_ang=7.0, displacements="random", random_seed=3)
    first = physics_dos(low_symmetry_pair(), calculator, partial=False, settings=settings)
    again = physics_dos(low_symmetry_pair(), calculator, partial=False, settings=settings)
    assert np.array_equal(first.phonon.force_constants, again.phonon.force_constants)


def test_unknown_displacement_method_is_refused():
    with pytest.raises(ModelError, match="unknown displacement method"):
        physics_dos(low_symmetry_pair(), NearestNeighbourSprings(K, R0, 3.2),
                    settings=PhysicsDosSettings(displacements="diagonal"))


def test_partial_dos_from_one_projection():
    """The shares are projected once on a 1 cm^-1 grid and interpolated: on the label grid (also 1 cm^-1 at
    frequency scale 1) that is phonopy's projected DOS itself, and the partial DOS still add up to the total
    on both grids."""
    from equispec.data.phdos_processing import smooth_raw_dos
    from equispec.io.units import CM1_PER_THZ

    a = 2 * 2.5
    structure = Structure(Lattice.cubic(a), ["Na"] * 4 + ["Cl"] * 4,
                          [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5],
                           [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5], [0.5, 0.5, 0.5]])
    result = physics_dos(structure, NearestNeighbourSprings(K, 2.5, 3.0), name="springs NaCl")
    # the label processing clips each smoothed curve at zero on its own, so at the band edges the sum of
    # the 51-bin partials may exceed the clipped total by the Savitzky-Golay undershoot (0.0016 here)
    assert sum(result.partial_dos.values()) == pytest.approx(result.dos, abs=5e-3)
    full = result.full_range
    assert sum(full.partial_dos.values()) == pytest.approx(full.dos, abs=1e-9 * full.dos.max())

    phonon = result.phonon  # the projection on the label grid, the way it was made before
    phonon.run_mesh(result.settings.mesh_length_ang, is_mesh_symmetry=False, with_eigenvectors=True)
    points_thz = result.raw_freq_cm1 / CM1_PER_THZ
    phonon.run_projected_dos(freq_min=0.0, freq_max=points_thz[-1] + 1e-9, freq_pitch=points_thz[1] - points_thz[0])
    projected = np.clip(phonon.get_projected_dos_dict()["projected_dos"], 0.0, None)[:, :len(points_thz)]
    norm = projected.sum(0)
    share = np.where(norm > 0, projected / np.where(norm > 0, norm, 1.0), 1.0 / len(projected))
    peak = smooth_raw_dos(result.raw_freq_cm1, result.raw_dos, "x").max()
    for element in ("Na", "Cl"):
        atoms = [i for i, site in enumerate(structure) if site.specie.symbol == element]
        expected = sum(smooth_raw_dos(result.raw_freq_cm1, share[i] * result.raw_dos, "x") for i in atoms) / peak
        assert result.partial_dos[element] == pytest.approx(expected, abs=1e-9)
    # the lighter Na carries the optic band: |e_Na|^2 / |e_Cl|^2 = m_Cl / m_Na = 1.54 at the zone centre,
    # more towards the zone boundary, where Cl stands still (measured 2.1 over the top fifth of the band)
    na, cl = full.partial_dos["Na"], full.partial_dos["Cl"]
    top = full.energy_mev > 0.8 * full.energy_mev[full.dos > 0].max()
    assert na[top].sum() > 1.4 * cl[top].sum()


def test_physics_forces_run_on_the_requested_device(monkeypatch):
    """``device`` goes from ``physics_dos`` to the potential, and the batches are made on the potential's
    device: the tensors are checked where they are used. On a machine without a GPU, the potential asked for
    ``cuda`` is built on the CPU by the test, so the forces can be compared."""
    import torch

    import equispec.nn.pretrained.blocks as sevennet
    from tests.conftest import EXAMPLES

    requested, used = [], []
    real_load = sevennet._load.__wrapped__

    def load(checkpoint, device, modality):
        requested.append(device)
        return real_load(checkpoint, "cpu", modality)

    real_batch = sevennet._batch

    def batch(graphs, negate, device):
        data = real_batch(graphs, negate, device)
        used.append({key: value.device for key, value in data.items() if isinstance(value, torch.Tensor)})
        return data

    silicon = Structure.from_file(str(EXAMPLES / "Si.cif"))
    on_cpu = physics_dos(silicon, name="Si", partial=False)
    monkeypatch.setattr(sevennet, "_load", load)
    monkeypatch.setattr(sevennet, "_batch", batch)
    asked = physics_dos(silicon, name="Si", partial=False, device="cuda")
    assert requested == ["cuda"]
    assert used and all(device.type == "cpu" for entry in used for device in entry.values())
    # float32 sums in another order at two threads move forces by ~1e-7 eV/Å (measured 6e-8)
    assert asked.phonon.raw_forces == pytest.approx(on_cpu.phonon.raw_forces, abs=1e-5)


@pytest.mark.parametrize("name, modality", [("7net-0", None), ("7net-l3i5", None), ("7net-mf-0:r2scan", "R2SCAN")])
def test_supercell_follows_the_potentials_cutoff(name, modality):
    """The table's cutoff (torch-free, read by the physics settings) is the built potential's; the supercell
    is twice it."""
    from equispec.nn.pretrained import load_sevennet
    from equispec.nn.pretrained.table import get_potential

    potential = get_potential(name)
    assert load_sevennet(potential.checkpoint, "cpu", modality).cutoff_ang == potential.cutoff_ang
    assert potential.supercell_ang == 2 * potential.cutoff_ang == 10.0


def test_chgnet_supercell_follows_its_atom_graph():
    pytest.importorskip("chgnet")
    from equispec.physics.forces import _chgnet
    from equispec.nn.pretrained.table import get_potential

    for name in ("chgnet", "chgnet-r2scan"):
        potential = get_potential(name)
        assert _chgnet(potential.checkpoint, "cpu").graph_converter.atom_graph_cutoff == potential.cutoff_ang == 6.0
        assert potential.supercell_ang == 12.0
