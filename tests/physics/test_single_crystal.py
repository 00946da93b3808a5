"""Single-crystal S(Q, E) along a path against physics known without the code: polarisation selection along
a longitudinal direction, the one-phonon formula of a monatomic Bravais lattice (hand cross-section, phonopy's
own mean-square displacement), cubic symmetry, detailed balance, and the sum rules of binning and resolution.

Model: fcc Al on nearest-neighbour springs (an exactly harmonic crystal; force constants in about a second)."""

import json

import numpy as np
import pytest
from phonopy.structure.atoms import atom_data
from pymatgen.core import Lattice, Structure
from scipy import constants

from equispec.errors import InputError
from equispec.io.single_crystal import write_single_crystal_map
from equispec.physics import physics_dos
from equispec.physics.neutron import euphonic_force_constants, quiet_euphonic
from equispec.physics.q_path import PathSamples, parse_q_path, path_frame, sample_path
from equispec.physics.single_crystal import mode_intensities, single_crystal_map
from equispec.plots import plot_single_crystal_map

from .test_physics_dos import NearestNeighbourSprings

A_CONVENTIONAL = 4.05
MEV = constants.eV * 1e-3  # J
BOLTZMANN_MEV_PER_K = constants.k / MEV
AL_COHERENT_LENGTH_FM = 3.449  # Sears, Neutron News 3, 26 (1992)
AL_MASS_U = next(row[3] for row in atom_data if row[1] == "Al")
T_K = 300.0


@pytest.fixture(scope="module")
def fcc():
    structure = Structure.from_spacegroup("Fm-3m", Lattice.cubic(A_CONVENTIONAL), ["Al"],
                                          [[0, 0, 0]]).get_primitive_structure()
    phonon = physics_dos(structure, NearestNeighbourSprings(2.0, A_CONVENTIONAL / np.sqrt(2), 3.2), name="fcc",
                         partial=False).phonon
    with quiet_euphonic():
        fc = euphonic_force_constants(phonon)
    return structure, phonon, fc, path_frame(structure)


def _samples(q_cart):
    q_cart = np.asarray(q_cart, float)
    return PathSamples(q_cart, np.arange(len(q_cart), dtype=float), [""] * len(q_cart), [])


def test_transverse_modes_carry_no_intensity_along_h00(fcc):
    """Along (h, 0, 0) Q is parallel to q, so the TA eigenvectors are perpendicular to Q and Q . e = 0.
    Tolerance: the eigenvectors of a degenerate pair come from a diagonalisation in double precision, so
    their component along Q is ~1e-12 (squared ~1e-24; measured 2e-24): 1e-10 of the LA's."""
    _, _, fc, frame = fcc
    samples = sample_path(parse_q_path("2.1 0 0 -> 2.9 0 0", frame))
    modes = mode_intensities(fc, samples.q_cart, T_K)
    assert modes.kept.all()
    frequencies = modes.frequencies_mev
    assert frequencies[:, 0] == pytest.approx(frequencies[:, 1], rel=1e-8)  # the degenerate TA pair
    assert (frequencies[:, 2] > frequencies[:, 1] * 1.2).all()  # LA above
    assert (modes.structure_factor[:, :2] / modes.structure_factor[:, 2:] < 1e-10).all()
    assert (modes.structure_factor[:, 2] > 0.1).all()


def test_longitudinal_intensity_is_the_one_phonon_formula_in_every_zone(fcc):
    """A monatomic Bravais lattice: S = b^2 hbar |Q . e|^2 / (2 M omega) exp(-Q^2 <u_x^2>) per atom, with e
    along Q for the LA mode on (h, 0, 0). Q = (0.3, 0, 0), (2.3, 0, 0) and (4.3, 0, 0) share their reduced q
    (same omega) but not their intensity: Q is not folded back into the first zone. <u_x^2> from phonopy's
    thermal displacements on the same mesh: 1e-4 (measured 1e-6; the codes differ in their low-frequency cut
    and unit constants)."""
    _, phonon, fc, frame = fcc
    hkl = np.array([[0.3, 0, 0], [2.3, 0, 0], [4.3, 0, 0]])
    q_cart = frame.to_cartesian(hkl)
    modes = mode_intensities(fc, q_cart, T_K)
    assert modes.frequencies_mev == pytest.approx(np.tile(modes.frequencies_mev[0], (3, 1)), rel=1e-9)
    omega = modes.frequencies_mev[:, 2] * MEV / constants.hbar  # rad/s
    q_si = np.linalg.norm(q_cart, axis=1) / constants.angstrom
    b = AL_COHERENT_LENGTH_FM * 1e-15
    mass = AL_MASS_U * constants.atomic_mass
    without_dw = b**2 * constants.hbar * q_si**2 / (2 * mass * omega) / 1e-31  # m^2 -> mbarn
    q2_ang2 = np.linalg.norm(q_cart, axis=1) ** 2
    u2_ang2 = np.log(without_dw[1] / modes.structure_factor[1, 2]) / q2_ang2[1]  # <u_x^2> from Q = (2.3, 0, 0)
    # one Gaussian Debye-Waller factor for all three zones (the constants differ from Euphonic's by ~1e-8)
    assert modes.structure_factor[:, 2] == pytest.approx(without_dw * np.exp(-q2_ang2 * u2_ang2), rel=1e-6)
    assert modes.structure_factor[2, 2] / modes.structure_factor[0, 2] > 30  # ~ (4.3 / 0.3)^2 exp(-Q^2 <u^2>)
    phonon.run_mesh(list(modes.dw_grid), is_gamma_center=False, with_eigenvectors=True, is_mesh_symmetry=False)
    phonon.run_thermal_displacements(temperatures=[T_K], freq_min=1e-3)
    u2_phonopy = phonon.thermal_displacements.thermal_displacements[0, 0]  # (T, 3 n_atoms): x of atom 0
    assert u2_ang2 == pytest.approx(u2_phonopy, rel=1e-4)


def test_symmetry_equivalent_q_give_the_same_intensity(fcc):
    """The 48 images of a generic Q under the cubic point group (permutations and sign changes). Frequencies,
    eigenvectors and exp(iQ.r) are exact images of each other up to rounding (1e-12); the Debye-Waller tensor
    is a mesh sum, made cubic by Euphonic's symmetrisation (and the 27^3 Monkhorst-Pack mesh is itself
    cubic), so it is isotropic to rounding too. Tolerance 1e-8 relative (measured 3e-13 for the totals and
    4e-13 of the maximum for the broadened map)."""
    from itertools import permutations, product

    _, _, fc, frame = fcc
    hkl = np.array([2.3, 0.4, 0.1])
    images = np.array([np.array(signs) * hkl[list(order)] for order in permutations(range(3))
                       for signs in product((1, -1), repeat=3)])
    assert len(np.unique(images, axis=0)) == 48
    modes = mode_intensities(fc, frame.to_cartesian(images), T_K)
    total = modes.loss.sum(axis=1) + modes.gain.sum(axis=1)
    assert total == pytest.approx(np.full(48, total[0]), rel=1e-8)
    energy = np.arange(-40.0, 40.001, 0.25)
    sqe = single_crystal_map(fc, _samples(frame.to_cartesian(images)), frame, energy, T_K, resolution=1.0)
    assert sqe.intensity == pytest.approx(np.tile(sqe.intensity[0], (48, 1)), rel=1e-8, abs=1e-10 * sqe.intensity.max())


@pytest.mark.parametrize("temperature_k", [30.0, 300.0])
def test_detailed_balance_per_mode_and_in_the_map(fcc, temperature_k):
    """S(Q, -E) = exp(-E / k_B T) S(Q, E) (k_B from scipy). Per mode to 1e-8 (the module's k_B comes from
    CODATA constants written to 10 digits in ``io.units``, and E / k_B T reaches ~10 at 30 K: measured
    3e-9); in the native map on
    a grid symmetric about 0, a bin at -E holds the mirror images of the modes at +E, so its ratio lies
    between exp(-(E +- dE/2) / k_B T) (any number of modes per bin), and is exactly exp(-omega / k_B T) where
    a bin holds one Q's one frequency (a narrow band)."""
    _, _, fc, frame = fcc
    samples = sample_path(parse_q_path("GAMMA -> X -> W -> L -> GAMMA", frame))
    modes = mode_intensities(fc, samples.q_cart, temperature_k)
    kept = modes.kept
    boltzmann = np.exp(-modes.frequencies_mev / (BOLTZMANN_MEV_PER_K * temperature_k))
    assert (modes.gain[kept] / modes.loss[kept]) == pytest.approx(boltzmann[kept], rel=1e-8)
    assert kept.sum() >= kept.size - 6  # only the acoustic modes at the two Gamma points are left out

    step = 0.5
    energy = np.arange(-60.0, 60.0 + step / 2, step)
    assert energy == pytest.approx(-energy[::-1], abs=1e-12)
    sqe = single_crystal_map(fc, samples, frame, energy, temperature_k)
    positive = energy > 0
    loss_side, gain_side = sqe.intensity[:, positive], sqe.intensity[:, ::-1][:, positive]
    filled = loss_side > 0
    ratio = gain_side[filled] / loss_side[filled]
    e = np.broadcast_to(energy[positive], loss_side.shape)[filled]
    beta = 1.0 / (BOLTZMANN_MEV_PER_K * temperature_k)
    assert (ratio <= np.exp(-beta * (e - step / 2)) * (1 + 1e-8)).all()
    assert (ratio >= np.exp(-beta * (e + step / 2)) * (1 - 1e-8)).all()

    q = frame.to_cartesian([[2.3, 0, 0]])  # one Q: the TA pair in one bin, the LA in another
    one = single_crystal_map(fc, _samples(q), frame, energy, temperature_k)
    for omega in np.unique(np.round(modes_at(fc, q, temperature_k), 9)):
        plus, minus = np.argmin(np.abs(energy - omega)), np.argmin(np.abs(energy + omega))
        assert one.intensity[0, minus] / one.intensity[0, plus] == pytest.approx(np.exp(-beta * omega), rel=1e-8)


def modes_at(fc, q_cart, temperature_k):
    return mode_intensities(fc, q_cart, temperature_k).frequencies_mev[0]


def test_binning_and_resolution_keep_the_weight(fcc):
    """Sum over bins times the step = sum of the per-mode loss + gain (nothing is lost inside the window);
    a Gaussian resolution, constant or growing with |E|, keeps each row's area (the window reaches 5 sigma
    beyond the band, so no tail falls off: 1e-6)."""
    _, _, fc, frame = fcc
    samples = sample_path(parse_q_path("2 0 0 -> 2.5 0 0 -> 2.5 0.5 0", frame))
    step = 0.25
    energy = np.arange(-60.0, 60.0 + step / 2, step)
    native = single_crystal_map(fc, samples, frame, energy, T_K)
    modes = mode_intensities(fc, samples.q_cart, T_K)
    assert native.intensity.sum(axis=1) * step == pytest.approx(modes.loss.sum(axis=1) + modes.gain.sum(axis=1),
                                                                rel=1e-12)
    assert native.details["left_out"]["n_modes"] == 3  # the acoustic modes at the Bragg point (2, 0, 0)
    assert native.details["outside_window_share"] == pytest.approx(0.0, abs=1e-12)
    assert np.isfinite(native.intensity).all()
    for resolution in (2.0, [0.5, 0.05]):
        broadened = single_crystal_map(fc, samples, frame, energy, T_K, resolution=resolution)
        assert broadened.intensity.sum(axis=1) == pytest.approx(native.intensity.sum(axis=1), rel=1e-6)
        assert broadened.intensity.max() < native.intensity.max()
    assert native.frequencies_mev == pytest.approx(modes.frequencies_mev)
    assert native.q_rlu[0] == pytest.approx([2, 0, 0], abs=1e-12)
    assert native.q_rlu[-1] == pytest.approx([2.5, 0.5, 0], abs=1e-12)


def test_json_and_npz_round_trip_and_the_plot_is_a_png(fcc, tmp_path):
    _, _, fc, frame = fcc
    text = "GAMMA -> X | 2 0 0 -> 2.5 0.5 0"
    samples = sample_path(parse_q_path(text, frame))
    sqe = single_crystal_map(fc, samples, frame, np.arange(-10.0, 40.001, 0.5), T_K, resolution=1.0, name="fcc",
                             path_text=text)
    assert sqe.breaks == samples.breaks and len(sqe.breaks) == 1
    assert "1 meV FWHM" in sqe.summary_line() and "fcc" in sqe.summary_line() and "300 K" in sqe.summary_line()

    record = json.loads(write_single_crystal_map(sqe, tmp_path / "map.json").read_text())
    for key in ("q_cart", "q_rlu", "distance_inv_ang", "energy_mev", "intensity", "frequencies_mev"):
        assert np.array(record[key], float) == pytest.approx(getattr(sqe, key), rel=1e-15, abs=0)
    assert record["labels"] == sqe.labels and record["breaks"] == sqe.breaks
    assert record["details"]["units"]["intensity"] == "mbarn/meV per atom"

    with np.load(write_single_crystal_map(sqe, tmp_path / "map.npz"), allow_pickle=False) as arrays:
        assert arrays["intensity"] == pytest.approx(sqe.intensity, rel=0, abs=0)
        assert arrays["q_rlu"] == pytest.approx(sqe.q_rlu, rel=0, abs=0)
        assert list(arrays["labels"]) == sqe.labels
        assert json.loads(str(arrays["details"])) == sqe.details
        assert float(arrays["temperature_k"]) == T_K

    for overlay in (False, True):
        png = plot_single_crystal_map(sqe, tmp_path / f"map{overlay}.png", overlay_dispersion=overlay)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InputError):
        write_single_crystal_map(sqe, tmp_path / "map.csv")
    with pytest.raises(InputError):
        plot_single_crystal_map(sqe, tmp_path / "missing" / "map.png")


def test_bad_input_is_one_input_error(fcc):
    structure, _, fc, frame = fcc
    samples = sample_path(parse_q_path("2 0 0 -> 3 0 0", frame))
    energy = np.arange(0.0, 30.0, 0.5)
    with pytest.raises(InputError, match="uniformly spaced"):
        single_crystal_map(fc, samples, frame, np.array([0.0, 1.0, 3.0]))
    with pytest.raises(InputError, match="above 0 K"):
        single_crystal_map(fc, samples, frame, energy, temperature_k=0.0)
    with pytest.raises(InputError, match="incident energy"):
        single_crystal_map(fc, samples, frame, energy, resolution="ARCS")
    with pytest.raises(InputError, match=r"\(n, 3\)"):
        mode_intensities(fc, np.zeros((4, 2)), T_K)
    other = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.0), ["Al"], [[0, 0, 0]]).get_primitive_structure()
    with pytest.raises(InputError, match="does not belong"):
        single_crystal_map(fc, samples, path_frame(other), energy)
