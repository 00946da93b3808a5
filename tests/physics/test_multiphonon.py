"""The phonon expansion of the incoherent self term against what is known without it: an Einstein
oscillator's Poisson weights at n E0, the sum rule over all orders, detailed balance, and the analytic
growth exp(-2W) (2W)^n / n! with |Q|. Constants come from scipy here, not from the module under test."""

import math

import numpy as np
import pytest
from scipy import constants
from scipy.integrate import quad

from equispec.errors import InputError
from equispec.physics.multiphonon import (auto_order, incoherent_self_map, parse_order, phonon_expansion,
                                          poisson_weights, self_terms)

KT_MEV_PER_K = constants.k / constants.eV * 1e3
#: hbar^2 / (2 u) in meV Å^2
HBAR2_OVER_2U = (constants.hbar * 1e10) ** 2 / (2 * constants.atomic_mass) / constants.eV * 1e3
MASS = 50.9415  # V
E0, STEP = 30.0, 0.05  # Einstein energy and grid step, meV


def einstein(width_mev: float = 0.2):
    """A narrow Gaussian at E0 on 0..60 meV: the DOS of an Einstein oscillator."""
    energy = np.arange(0.0, 60.0, STEP)
    return energy, np.exp(-0.5 * ((energy - E0) / width_mev) ** 2)


def analytic_msd(temperature_k: float) -> float:
    """<u_x^2> of an Einstein oscillator: hbar^2 / (2 M E0) coth(E0 / 2 k_B T)."""
    return HBAR2_OVER_2U / MASS / E0 / math.tanh(E0 / (2 * KT_MEV_PER_K * temperature_k))


def peak_weights(expansion, order: int) -> tuple[float, float]:
    """(weight within +-E0/2 of n E0, energy of A_n's maximum) of the n-phonon spectrum."""
    e, spectrum = expansion.energy_mev, expansion.spectra[order - 1]
    near = np.abs(e - order * E0) < E0 / 2
    return float(spectrum[near].sum() * STEP), float(e[np.argmax(spectrum)])


def test_einstein_oscillator_at_low_temperature_gives_poisson_weights_at_n_e0():
    temperature = 20.0  # k_B T = 1.7 meV: n_B(30 meV) = 2e-8, all intensity on the loss side
    expansion = phonon_expansion(*einstein(), temperature, MASS, max_order=6)
    assert expansion.msd_ang2 == pytest.approx(analytic_msd(temperature), rel=1e-3)
    for order in range(1, 7):
        weight, peak = peak_weights(expansion, order)
        assert weight == pytest.approx(1.0, abs=1e-6)  # each A_n: one line at n E0
        assert peak == pytest.approx(order * E0, abs=STEP)
    q = np.array([math.sqrt(1.3 / expansion.msd_ang2)])  # the |Q| where 2W = Q^2 <u_x^2> = 1.3
    energy = expansion.energy_mev
    terms = incoherent_self_map([expansion], [4 * np.pi], q, energy, range(1, 7))[:, 0]  # sigma / 4 pi = 1
    two_w = 1.3
    for order in range(1, 7):
        expected = math.exp(-two_w) * two_w**order / math.factorial(order)
        near = np.abs(energy - order * E0) < E0 / 2
        assert terms[order - 1][near].sum() * STEP == pytest.approx(expected, rel=1e-5)


def test_einstein_one_phonon_weights_at_finite_temperature_follow_bose():
    temperature = 300.0
    expansion = phonon_expansion(*einstein(), temperature, MASS, max_order=1)
    e, a1 = expansion.energy_mev, expansion.spectra[0]
    n = 1.0 / math.expm1(E0 / (KT_MEV_PER_K * temperature))
    loss, gain = a1[np.abs(e - E0) < 5].sum() * STEP, a1[np.abs(e + E0) < 5].sum() * STEP
    # the line's 0.2 meV width samples n(E) around E0: a second-order shift, (0.2 / k_B T)^2 ~ 6e-5
    assert loss == pytest.approx((n + 1) / (2 * n + 1), rel=1e-4)
    assert gain == pytest.approx(n / (2 * n + 1), rel=1e-4)
    assert expansion.msd_ang2 == pytest.approx(analytic_msd(temperature), rel=1e-3)


def debye(top_mev: float = 35.0):
    energy = np.arange(0.0, top_mev + 5.0, 0.1)
    return energy, np.where(energy <= top_mev, energy**2, 0.0)


@pytest.mark.parametrize("temperature", [10.0, 300.0, 900.0])
def test_self_term_weights_sum_to_one_at_every_q(temperature):
    """Elastic (n = 0) plus every inelastic order: the self term's integrated weight is 1 at any |Q|. The
    elastic weight exp(-2W) takes the Einstein oscillator's analytic 2W = Q^2 hbar^2 / (2 M E0) coth(E0 / 2kT),
    not the module's, so a wrong mean-square displacement breaks the sum. Tolerance: the module's <u_x^2>
    follows from a 0.2 meV wide line, 1e-3 relative (the test above), and exp(-2W) 2W <= 0.37 turns that
    into at most 4e-4 absolute."""
    expansion = phonon_expansion(*einstein(), temperature, MASS, max_order=25)
    q = np.linspace(0.5, 22.0, 8)
    two_w = q**2 * analytic_msd(temperature)
    assert two_w.max() > 0.5  # into the multiphonon regime at the top |Q| (two-phonon over one-phonon: 2W / 2)
    terms = incoherent_self_map([expansion], [4 * np.pi], q, expansion.energy_mev, range(1, 26))
    inelastic = terms.sum(axis=(0, 2)) * expansion.step_mev
    assert np.exp(-two_w) + inelastic == pytest.approx(np.ones_like(q), abs=5e-4)
    assert poisson_weights(two_w, 25).sum(axis=0) == pytest.approx(np.ones_like(q), abs=1e-12)


def debye_msd(top_mev: float, temperature_k: float) -> float:
    """<u_x^2> of a Debye solid, hbar^2 / (2M) int_0^ED (3 E^2 / ED^3) / E coth(E / 2kT) dE, by quadrature."""
    integrand = lambda e: 3 * e / top_mev**3 / math.tanh(e / (2 * KT_MEV_PER_K * temperature_k))
    return HBAR2_OVER_2U / MASS * quad(integrand, 0.0, top_mev, limit=200)[0]


@pytest.mark.parametrize("temperature", [50.0, 300.0])
def test_self_terms_of_a_debye_solid_seen_through_a_narrow_window_keep_the_analytic_msd(temperature):
    """A map whose window ends at 12 meV, far below the 35 meV Debye cut-off, still has the atoms' whole
    mean-square displacement. Tolerance: the DOS is sampled on 0.09 meV bins and its step at E_D falls in
    one of them, a relative error of about a bin over the band, 2e-3."""
    top = 35.0

    def atom_pdos(edges):
        centres = 0.5 * (edges[1:] + edges[:-1])
        return np.where(centres <= top, centres**2, 0.0)[None, :]

    window = np.arange(-6.0, 12.0, 0.25)
    q = np.array([2.0, 6.0])
    terms, order, msd = self_terms(atom_pdos, 1.02 * top, [MASS], [5.08], [5.1], q, window, temperature, 3)
    assert order == 3 and terms.shape == (3, len(q), len(window))
    assert msd[0] == pytest.approx(debye_msd(top, temperature), rel=2e-3)
    wide = np.arange(-6.0, 120.0, 0.25)
    wide_terms, _, wide_msd = self_terms(atom_pdos, 1.02 * top, [MASS], [5.08], [5.1], q, wide, temperature, 3)
    assert wide_msd == msd
    assert terms == pytest.approx(wide_terms[:, :, :len(window)], rel=1e-12, abs=0)


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_every_order_obeys_detailed_balance(order):
    temperature = 200.0
    energy, dos = debye()
    expansion = phonon_expansion(energy, dos, temperature, MASS, max_order=5, step_mev=0.1)
    e, spectrum = expansion.energy_mev, expansion.spectra[order - 1]
    loss = e > 0.5
    gain = spectrum[::-1][loss]  # the grid is symmetric: reversed, index k holds A_n(-E_k)
    inside = gain > 1e-7 * spectrum.max()  # above the FFT's rounding (1e-16 of the maximum)
    assert inside.sum() > 100
    # exact on a symmetric grid: A_1 is built with n at -E and n + 1 at +E, and convolution keeps the ratio
    assert gain[inside] == pytest.approx(np.exp(-e[loss][inside] / (KT_MEV_PER_K * temperature)) *
                                         spectrum[loss][inside], rel=1e-6)


def test_multiphonon_intensity_grows_with_q_as_the_analytic_poisson_terms():
    temperature = 300.0
    energy, dos = einstein()
    expansion = phonon_expansion(energy, dos, temperature, MASS, max_order=4)
    q = np.linspace(1.0, 16.0, 16)
    two_w = q**2 * analytic_msd(temperature)  # computed here from E0, M and T alone
    terms = incoherent_self_map([expansion], [4 * np.pi], q, expansion.energy_mev, range(1, 5))
    integrated = terms.sum(axis=2) * STEP  # (order, q)
    for order in range(1, 5):
        expected = np.exp(-two_w) * two_w**order / math.factorial(order)
        assert integrated[order - 1] == pytest.approx(expected, rel=2e-3)
    # the two-phonon share of the inelastic intensity rises with Q, as 2W / 2 relative to one-phonon
    assert integrated[1] / integrated[0] == pytest.approx(two_w / 2, rel=2e-3)
    assert np.all(np.diff(integrated[1] / integrated[0]) > 0)


def test_auto_order_stops_when_the_next_term_adds_under_one_percent():
    q = np.array([5.0])
    two_w = [q**2 * 0.02]  # 2W = 0.5
    order = auto_order(two_w, [1.0])
    weights = poisson_weights(two_w[0], 30)[:, 0]
    for n in range(2, order + 1):
        assert weights[n] >= 0.01 * weights[1:n + 1].sum()
    assert weights[order + 1] < 0.01 * weights[1:order + 2].sum()
    assert auto_order([q**2 * 0.0004], [1.0]) == 1  # 2W = 0.01: two-phonon / (one + two) = 0.5 %
    assert auto_order([q**2 * 0.1], [1.0]) > order  # a softer lattice needs more terms


@pytest.mark.parametrize("value, expected", [("auto", "auto"), (None, "auto"), ("3", 3), (1, 1), ("AUTO", "auto")])
def test_phonon_order_parsing(value, expected):
    assert parse_order(value) == expected


@pytest.mark.parametrize("value", ["0", "-2", "1.5", "many", "99", True])
def test_bad_phonon_order_is_one_line(value):
    with pytest.raises(InputError, match="--phonon-order") as caught:
        parse_order(value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("temperature", [50.0, 300.0])
def test_self_term_first_moment_is_the_recoil_energy_at_every_q(temperature):
    """The f-sum rule: int E S_self(Q, E) dE = hbar^2 Q^2 / 2M, with every order counted (at the top |Q|
    more than half of the first moment is multiphonon)."""
    energy, dos = debye()
    expansion = phonon_expansion(energy, dos, temperature, MASS, max_order=30, step_mev=0.1)
    q = np.linspace(1.0, 20.0, 6)
    terms = incoherent_self_map([expansion], [4 * np.pi], q, expansion.energy_mev, range(1, 31))
    first_moment = (terms * expansion.energy_mev).sum(axis=(0, 2)) * expansion.step_mev
    assert first_moment == pytest.approx(HBAR2_OVER_2U * q**2 / MASS, rel=1e-6)
    one_phonon = (terms[0] * expansion.energy_mev).sum(axis=1) * expansion.step_mev
    assert one_phonon[-1] < 0.5 * first_moment[-1]
