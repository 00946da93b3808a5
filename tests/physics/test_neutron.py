"""Neutron observables of force constants (Euphonic) against answers known without it: phonopy's DOS, the
analytic spring-chain DOS, hand-computed cross-sections, detailed balance, the kinematic formula."""

import numpy as np
import pytest
from phonopy.structure.atoms import atom_data
from pymatgen.core import Lattice, Structure
from scipy import constants

from equispec.broadening import broaden_dos
from equispec.analysis.readers import read_measured_sqe
from equispec.errors import InputError
from equispec.physics import physics_dos
from equispec.physics.neutron import (broaden_map, euphonic_dos, euphonic_force_constants, instrument_resolution,
                                      kinematic_limits, kinematic_mask, powder_map, quiet_euphonic)

from .test_physics_dos import A, ELEMENT, K, NearestNeighbourSprings, chain_max_frequency_cm1

MEV_PER_CM1 = constants.h * constants.c * 100 / constants.eV * 1e3
BOLTZMANN_MEV_PER_K = constants.k / constants.eV * 1e3


@pytest.fixture(scope="module")
def springs():
    structure = Structure(Lattice.cubic(A), [ELEMENT], [[0, 0, 0]])
    result = physics_dos(structure, NearestNeighbourSprings(K, A, 1.2 * A), name="springs")
    with quiet_euphonic():
        return result, euphonic_force_constants(result.phonon)


def test_full_range_dos_is_the_analytic_chain_distribution_unsmoothed(springs):
    """Three independent chains: cumulative DOS 3 (2/pi) arcsin(E / E_max), on fine steps up to beyond the top."""
    result, _ = springs
    mass = next(row[3] for row in atom_data if row[1] == ELEMENT)
    top_mev = chain_max_frequency_cm1(K, mass) * MEV_PER_CM1
    full = result.full_range
    assert np.diff(full.energy_mev).max() <= 0.25 + 1e-9
    assert full.energy_mev[-1] > 1.04 * top_mev
    cumulative = np.concatenate([[0], np.cumsum(0.5 * (full.dos[1:] + full.dos[:-1]) * np.diff(full.energy_mev))])
    assert cumulative[-1] == pytest.approx(3.0, abs=0.05)
    probe = np.linspace(0.05, 0.95, 19) * top_mev
    assert np.interp(probe, full.energy_mev, cumulative) == pytest.approx(3 * 2 / np.pi * np.arcsin(probe / top_mev),
                                                                          abs=0.03)
    # no label smoothing: the band ends within 1 % of the analytic top, and the van Hove divergence there
    # stays the maximum (the tetrahedron mesh puts it 2 % below the top; a 12 meV smoothing would move more)
    assert full.energy_mev[full.dos > 1e-3 * full.dos.max()].max() == pytest.approx(top_mev, rel=0.01)
    assert full.energy_mev[np.argmax(full.dos)] == pytest.approx(top_mev, rel=0.025)
    assert sum(full.partial_dos.values()) == pytest.approx(full.dos)
    assert full.phonon_dos.frequencies[-1] == pytest.approx(full.energy_mev[-1] / (constants.h * 1e12 / constants.eV * 1e3))


def test_euphonic_dos_of_our_force_constants_agrees_with_phonopy():
    """fcc with nearest-neighbour springs: a genuinely 3-D DOS (the simple cubic one is three 1-D chains,
    whose band-top divergence no mesh method resolves alike)."""
    fcc = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.05), ["Al"], [[0, 0, 0]]).get_primitive_structure()
    result = physics_dos(fcc, NearestNeighbourSprings(2.0, 4.05 / np.sqrt(2), 3.2), name="fcc", partial=False)
    edges = np.arange(0.0, result.full_range.energy_mev[-1], 0.25)
    centres = 0.5 * (edges[1:] + edges[:-1])
    with quiet_euphonic():
        dos = euphonic_dos(euphonic_force_constants(result.phonon), edges)["Al"]
    phonopy = np.interp(centres, result.full_range.energy_mev, result.full_range.dos)
    assert np.sum(dos) * 0.25 == pytest.approx(3.0, abs=0.05)
    assert np.corrcoef(dos, phonopy)[0, 1] > 0.98  # measured 0.989: adaptive Gaussian vs tetrahedron
    cumulative = lambda y: np.cumsum(y) * 0.25
    assert cumulative(dos) == pytest.approx(cumulative(phonopy), abs=0.05)


def test_neutron_weighting_of_two_elements_matches_hand_cross_sections():
    """Rocksalt NaCl on nearest-neighbour springs: each element's weighted PDOS over its plain PDOS is
    sigma_el * M_avg / M_el, with Sears (1992) bound cross-sections typed in by hand."""
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]]).get_primitive_structure()
    result = physics_dos(nacl, NearestNeighbourSprings(3.0, 2.82, 3.2), name="NaCl", partial=False)
    sigma_barn = {"Na": 1.66 + 1.62, "Cl": 11.5257 + 5.3}  # coherent + incoherent
    mass = {"Na": 22.98977, "Cl": 35.453}
    edges = np.arange(0.0, result.full_range.energy_mev[-1], 0.5)
    with quiet_euphonic():
        fc = euphonic_force_constants(result.phonon)
        plain = euphonic_dos(fc, edges)
        weighted = euphonic_dos(fc, edges, weighting="coherent-plus-incoherent")
    average_mass = (mass["Na"] + mass["Cl"]) / 2
    for element in ("Na", "Cl"):
        ratio = weighted[element].sum() / plain[element].sum()  # mbarn per state
        assert ratio == pytest.approx(1000 * sigma_barn[element] * average_mass / mass[element], rel=2e-3)
    # our incoherent-approximation weights (periodictable) are the same sigma / M
    from equispec.physics.neutron import neutron_weights

    weights = neutron_weights(["Na", "Cl"])
    assert weights["Cl"] / weights["Na"] == pytest.approx(
        (sigma_barn["Cl"] / mass["Cl"]) / (sigma_barn["Na"] / mass["Na"]), rel=5e-3)


def test_powder_map_obeys_detailed_balance(springs):
    _, fc = springs
    temperature = 150.0
    energy = np.arange(-20.0, 20.01, 0.5)  # symmetric bin centres
    with quiet_euphonic():
        sqe = powder_map(fc, np.array([2.0, 3.5, 5.0]), energy, temperature, npts=100).intensity
    loss, gain = sqe[:, energy > 1.0].sum(axis=0), sqe[:, energy < -1.0][:, ::-1].sum(axis=0)
    e = energy[energy > 1.0]
    inside = loss > 1e-3 * loss.max()
    assert inside.sum() > 10
    # each mode puts S (n + 1) at +E and S n in the mirror bin; bins mix nearby energies, hence 3 %
    assert gain[inside] / loss[inside] == pytest.approx(np.exp(-e[inside] / (BOLTZMANN_MEV_PER_K * temperature)),
                                                        rel=0.03)


def test_kinematic_mask_matches_the_formula():
    hbar2_over_2m = (constants.hbar**2 / (2 * constants.m_n)) / constants.eV * 1e3 / 1e-20  # meV Å^2
    ei, energy = 100.0, np.array([-30.0, 0.0, 20.0, 60.0, 99.0, 120.0])
    low, high = kinematic_limits(energy, ei, (5.0, 120.0))
    ki, kf = np.sqrt(ei / hbar2_over_2m), np.sqrt(np.clip(ei - energy, 0, None) / hbar2_over_2m)
    q = lambda angle: np.sqrt(ki**2 + kf**2 - 2 * ki * kf * np.cos(np.radians(angle)))
    assert low[:5] == pytest.approx(q(5.0)[:5], rel=1e-5)
    assert high[:5] == pytest.approx(q(120.0)[:5], rel=1e-5)
    assert np.isnan(low[5]) and np.isnan(high[5])  # E > Ei cannot be reached
    mask = kinematic_mask(np.array([0.5, 3.0, 12.0]), energy, ei, (5.0, 120.0))
    assert mask.shape == (3, 6) and not mask[:, 5].any()
    assert mask[1, 2] and not mask[2, 2]  # 3 1/Å at 20 meV is measured; 12 1/Å is beyond 120 degrees
    with pytest.raises(InputError, match="incident energy"):
        kinematic_limits(energy, -5.0)


@pytest.mark.parametrize("resolution", [3.0, (1.0, 0.05, 1e-4)])
def test_resolution_convolution_preserves_area(resolution):
    energy = np.arange(0.0, 100.0, 0.25)
    dos = np.exp(-0.5 * ((energy - 40) / 2.0) ** 2) + 0.5 * np.exp(-0.5 * ((energy - 60) / 0.5) ** 2)
    grid, broadened = broaden_dos(energy, dos, resolution)
    assert np.trapezoid(broadened, grid) == pytest.approx(np.trapezoid(dos, energy), rel=1e-6)
    assert broadened.max() < dos.max()  # it did broaden
    rows = broaden_map(energy, np.stack([dos, 2 * dos]), resolution)
    assert rows.sum(axis=1) == pytest.approx([dos.sum(), 2 * dos.sum()], rel=1e-6)


def test_named_instrument_resolution_comes_from_resins():
    fwhm = instrument_resolution("arcs", 120.0)
    widths = fwhm(np.array([0.0, 50.0, 100.0]))
    assert 3.0 < widths[0] < 8.0 and widths[2] < widths[0]  # a direct-geometry width shrinks towards Ei
    with pytest.raises(InputError, match="unknown instrument"):
        instrument_resolution("NOT-A-SPECTROMETER", 100.0)


@pytest.mark.parametrize("arrays, problem", [
    ({"Q": np.arange(3.0), "E": np.arange(4.0), "intensity_wrong": np.ones((3, 4)), "I_err2": np.ones((3, 4))},
     "no I/intensity/sqe array"),
    ({"Q": np.arange(3.0), "E": np.arange(4.0), "I": np.full((3, 4), np.nan), "I_err2": np.ones((3, 4))},
     "no finite intensity"),
    ({"Q": np.arange(3.0), "E": np.arange(4.0), "I": np.ones((4, 3)), "I_err2": np.ones((4, 3))}, "must have shape"),
])
def test_bad_sqe_files_are_one_line_input_errors(tmp_path, arrays, problem):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputError, match=problem) as caught:
        read_measured_sqe(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_incoherent_scattering_obeys_the_first_moment_sum_rule():
    """For an incoherent scatterer, the one-phonon first moment int E S(Q,E) dE (loss minus gain) is the
    recoil energy times sigma_inc / 4 pi times the Debye-Waller factor: at |Q| = 1 1/Å the latter is ~1.
    Vanadium's cross-sections (Sears 1992: 5.08 b incoherent, 0.0184 b coherent) on an fcc spring lattice."""
    fcc = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.05), ["V"], [[0, 0, 0]]).get_primitive_structure()
    result = physics_dos(fcc, NearestNeighbourSprings(2.0, 4.05 / np.sqrt(2), 3.2), name="V", partial=False)
    energy = np.arange(-60.0, 60.01, 0.25)
    with quiet_euphonic():
        sqe = powder_map(euphonic_force_constants(result.phonon), np.array([1.0]), energy, 300.0, npts=50).intensity[0]
    recoil_mev = (constants.hbar * 1e10) ** 2 / (2 * 50.9415 * constants.atomic_mass) / constants.eV * 1e3
    expected = 5080.0 / (4 * np.pi) * recoil_mev  # mbarn/sr * meV, per atom
    assert np.sum(energy * sqe) * 0.25 == pytest.approx(expected, rel=0.03)


@pytest.fixture(scope="module")
def fcc_vanadium_springs():
    """Vanadium's cross-sections (almost only incoherent) on an fcc lattice of nearest-neighbour springs."""
    fcc = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.05), ["V"], [[0, 0, 0]]).get_primitive_structure()
    result = physics_dos(fcc, NearestNeighbourSprings(2.0, 4.05 / np.sqrt(2), 3.2), name="V", partial=False)
    with quiet_euphonic():
        return result, euphonic_force_constants(result.phonon)


def test_a_window_below_the_band_top_keeps_the_msd_and_the_intensities(fcc_vanadium_springs):
    """A cold-neutron window (Ei 12 meV: up to 11.4 meV) far below the band top sees the same atoms as a wide
    one: the same <u^2>, and the same intensity in every bin the two windows share (the bins are the same and
    so are the sphere points, drawn from one seed). Both follow from whole-band partial DOS, so they agree
    to rounding."""
    result, fc = fcc_vanadium_springs
    band_top = float(result.full_range.energy_mev[result.full_range.dos > 0].max())
    narrow = np.arange(-6.0, 11.5, 0.25)
    wide = np.arange(-6.0, 1.2 * band_top, 0.25)
    assert narrow[-1] < 0.5 * band_top
    q = np.array([1.5, 3.0, 6.0])
    with quiet_euphonic():
        cold, hot = (powder_map(fc, q, energy, 300.0, npts=60) for energy in (narrow, wide))
    assert cold.details["msd_ang2"]["V"] == pytest.approx(hot.details["msd_ang2"]["V"], rel=1e-12)
    assert cold.phonon_order == hot.phonon_order >= 2
    assert cold.intensity == pytest.approx(hot.intensity[:, :len(narrow)], rel=1e-9, abs=1e-12)


def test_incoherent_part_stays_finite_at_zero_energy_transfer(springs):
    """An energy grid through E = 0 (here -40 + 100 x 0.4, 1e-14 off) must not blow up g(E) / E x n(E): Al
    scatters 0.0082 b incoherently against 1.495 b coherently, so the incoherent share stays ~1 %."""
    _, fc = springs
    energy = np.arange(-40.0, 80.0, 0.4)
    assert np.abs(energy).min() < 1e-9
    with quiet_euphonic():
        result = powder_map(fc, np.array([2.0, 4.0]), energy, 300.0, npts=50)
    assert np.isfinite(result.intensity).all() and result.details["incoherent_share"] < 0.05


def test_map_fit_is_not_captured_by_bins_that_report_zero_error(springs):
    """A measured map equal to twice the prediction, with a handful of empty bins reporting ~0 error (as the V
    map does): the fitted scale must stay 2, not collapse to fit those bins alone."""
    from types import SimpleNamespace

    from equispec.analysis.readers import MeasuredSqe
    from equispec.analysis.sqe import compare_sqe

    result, fc = springs
    q, energy = np.linspace(1.0, 6.0, 11), np.arange(-20.0, 40.0, 0.5)
    with quiet_euphonic():
        model = powder_map(fc, q, energy, 300.0, npts=50, phonon_order="auto").intensity
    model = broaden_map(energy, model, 2.0)
    measured = 2.0 * model
    error = np.full(model.shape, 0.02 * measured.max())
    cold = (np.arange(model.size) % 499 == 0).reshape(model.shape) & (np.abs(energy) > 5)[None, :]
    measured[cold], error[cold] = 0.0, 1e-12
    comparison = compare_sqe(SimpleNamespace(force_constants=result.phonon, name="springs"),
                             MeasuredSqe("map", q, energy, measured, error), resolution=2.0, temperature_k=300.0,
                             npts=50, phonon_order="auto")
    assert 0 < cold.sum() < 0.005 * model.size  # the V map: 9 of 31 410
    assert comparison.scale == pytest.approx(2.0, rel=0.05)
    assert comparison.details["error_floor"] == pytest.approx(error.max())


def test_neutron_dos_stays_finite_when_a_gamma_frequency_is_exactly_zero():
    """fcc springs with force constants rounded to 1/64 eV/Å^2: the acoustic sum rule then holds exactly, one
    Gamma frequency comes out exactly 0 and Euphonic's mode gradient there is 0/0. Before the fix that one
    NaN width made every bin of the neutron-weighted DOS NaN (what ``predict --ins`` of Al hit now and
    then, when the SevenNet forces happened to round that way), and Euphonic's Debye-Waller sum (inf x 0)
    every bin of a powder map (1 in 5 fresh Al force calculations on SevenNet-l3i5, measured)."""
    from euphonic import ureg
    from euphonic.util import mp_grid

    from equispec.physics.neutron import _mesh_modes, euphonic_neutron_dos

    fcc = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.05), ["Al"], [[0, 0, 0]]).get_primitive_structure()
    result = physics_dos(fcc, NearestNeighbourSprings(2.0, 4.05 / np.sqrt(2), 3.2), name="fcc", partial=False)
    result.phonon.force_constants = np.round(result.phonon.force_constants * 64) / 64
    edges = np.arange(0.0, result.full_range.energy_mev[-1], 0.25)
    with quiet_euphonic():
        fc = euphonic_force_constants(result.phonon)
        grid = mp_grid(fc.crystal.get_mp_grid_spec(ureg.Quantity(0.1, "1/angstrom")))
        raw = fc.calculate_qpoint_phonon_modes(grid, asr="reciprocal")
        modes, widths = _mesh_modes(fc, 0.1, mode_widths=True)
        weighted = euphonic_neutron_dos(fc, edges)
        powder = powder_map(fc, np.array([2.0, 4.0]), np.arange(-10.0, 40.0, 0.5), 300.0, npts=20)
    assert (raw.frequencies.magnitude == 0).any()  # the case is really there
    assert np.isfinite(widths.magnitude).all() and np.isfinite(weighted).all()
    assert np.sum(weighted) > 0
    assert np.isfinite(powder.intensity).all() and np.isfinite(powder.details["euphonic_msd_ang2"]["Al"])


def test_energy_resolution_resolves_names_only_and_says_what_is_missing():
    """One resolver for ``ins_spectra`` and the CLI: settings pass through, a name needs Ei, and each caller
    keeps its own wording of what to give."""
    from equispec.physics.neutron import energy_resolution

    for setting in (None, 2.0, (1.0, 0.05), [2.0]):
        assert energy_resolution(setting, None) is setting
    assert energy_resolution("ARCS", 120.0).description.startswith("ARCS")
    assert energy_resolution("ARCS", None, defer=True) == "ARCS"
    with pytest.raises(InputError) as caught:
        energy_resolution("ARCS")
    assert str(caught.value) == "ARCS: a named instrument's resolution needs the incident energy (--ei)"
    with pytest.raises(InputError) as caught:
        energy_resolution("ARCS", source="--instrument", needs="--ei")
    assert str(caught.value) == "--instrument: a named instrument's resolution needs --ei"


def test_ins_dos_weights_broadens_and_normalises():
    """The chain behind ``ins_spectra``'s label-grid DOS and ``compare_phdos``: sigma/M weights of the partial
    DOS, area kept by the resolution, unit area on the energies asked for, zero outside the DOS's span."""
    from equispec.physics.neutron import ins_dos, neutron_weighted_dos

    energy = np.linspace(0.0, 50.0, 201)
    partial = {"V": np.exp(-0.5 * ((energy - 20) / 3) ** 2), "H": np.exp(-0.5 * ((energy - 35) / 2) ** 2)}
    plain = ins_dos(energy, neutron_weighted_dos(partial))
    weighted = ins_dos(energy, None, partial_dos=partial)
    assert weighted.values == pytest.approx(plain.values, rel=1e-12)
    assert np.trapezoid(weighted.values, energy) == pytest.approx(1.0)
    broad = ins_dos(energy, None, 4.0, partial_dos=partial)
    assert np.trapezoid(broad.values, energy) == pytest.approx(1.0) and broad.values.max() < weighted.values.max()
    on = np.arange(-10.0, 70.0, 0.5)
    wide = ins_dos(energy, partial["V"], 2.0, on, full_range_to_mev=70.0)
    assert wide.span_mev[0] == 0.0 and wide.span_mev[1] >= 70.0
    assert (wide.values[on < 0] == 0).all() and wide.inside.sum() == (on >= 0).sum()
    inside = ins_dos(energy, partial["V"], 2.0, on, full_range_to_mev=70.0, within_span=True)
    assert len(inside.values) == wide.inside.sum() and np.trapezoid(inside.values, on[wide.inside]) == pytest.approx(1)
