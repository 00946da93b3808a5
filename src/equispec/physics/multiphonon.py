"""Multiphonon scattering in the incoherent approximation: the phonon expansion of the self term.

For an atom of mass M with unit-area partial DOS g(E) at temperature T (Sjölander 1958; Squires, ch. 3;
the approach of OCLIMAX, Mantid's AbINS and the ``multiphonon`` package):

    S_self(Q, E) = exp(-2W) sum_{n >= 0} (2W)^n / n! A_n(E),      2W(Q) = Q^2 <u_x^2>,

with A_0 = delta(E), the one-phonon spectrum
    A_1(E) = g(|E|) / (|E| gamma) * (n_B(|E|) + 1 for E > 0, n_B(|E|) for E < 0),
    gamma = int g(E) / E coth(E / 2 k_B T) dE   (so that A_1 has unit area),
and A_n = A_{n-1} * A_1 (convolution), each of unit area. Then sum_n exp(-2W) (2W)^n / n! = 1 at every Q
(the sum rule of the self term), each A_n obeys detailed balance A_n(-E) = exp(-E / k_B T) A_n(E), and an
Einstein oscillator's n-phonon weights at T -> 0 are the Poisson weights exp(-2W) (2W)^n / n! at n E0.

The mean-square displacement is the harmonic one of the same DOS, <u_x^2> = hbar^2 / (2 M) gamma, so the
Debye-Waller factor and the spectra come from the same force constants and temperature. Units: energies in
meV, |Q| in 1/Å, masses in u.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = ["PhononExpansion", "phonon_expansion", "poisson_weights", "incoherent_self_map", "auto_order",
           "self_terms", "self_term_edges", "parse_order", "DEBYE_LIMIT_MEV", "AUTO_ORDER_TOLERANCE", "MAX_PHONON_ORDER"]

#: hbar^2 / (2 u) in meV Å^2: the recoil energy hbar^2 Q^2 / 2M of a mass M (in u) at |Q| (in 1/Å).
RECOIL_MEV_ANG2_AMU = 2.0900796
#: Boltzmann constant in meV/K.
BOLTZMANN_MEV_PER_K = 0.08617333262
#: Below this energy a mesh's broadened DOS does not vanish as it should: g ~ E^2 (Debye) continues it.
DEBYE_LIMIT_MEV = 1.0
#: ``order="auto"`` stops at the first term that adds less than this share of the total intensity.
AUTO_ORDER_TOLERANCE = 0.01
#: Highest order ``auto`` goes to (a bound on work; reached only for very soft or very hot samples).
MAX_PHONON_ORDER = 20


@dataclass
class PhononExpansion:
    """The n-phonon spectra A_1..A_N of one atom on a uniform energy grid centred on E = 0.

    Attributes:
        energy_mev: (m,) symmetric grid, ``m`` odd, step ``step_mev``.
        spectra: (N, m) A_n(E) for n = 1..N, each of unit area (1/meV).
        gamma_per_mev: int g(E) / E coth(E / 2 k_B T) dE; ``msd_ang2 = RECOIL / M * gamma``.
        msd_ang2: <u_x^2>, the mean-square displacement along one direction (Å^2).
    """

    energy_mev: np.ndarray
    spectra: np.ndarray
    gamma_per_mev: float
    msd_ang2: float

    @property
    def step_mev(self) -> float:
        return float(self.energy_mev[1] - self.energy_mev[0])

    def two_w(self, q_inv_ang) -> np.ndarray:
        """The Debye-Waller exponent 2W(Q) = Q^2 <u_x^2>."""
        return np.asarray(q_inv_ang, float) ** 2 * self.msd_ang2


def _one_phonon(energy: np.ndarray, g: np.ndarray, temperature_k: float) -> tuple[np.ndarray, float]:
    """A_1 on the symmetric grid ``energy`` from g on |E|, and gamma."""
    magnitude = np.abs(energy)
    kt = BOLTZMANN_MEV_PER_K * float(temperature_k)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        occupation = 1.0 / np.expm1(magnitude / kt)
        bose = np.where(energy > 0, occupation + 1.0, occupation)
        a1 = np.where(magnitude > 0, g * bose / magnitude, 0.0)
    step = float(energy[1] - energy[0])
    area = float(np.sum(a1) * step)
    if not area > 0 or not np.isfinite(area):
        raise InputError("DOS", "has no weight above 0 meV: no phonon expansion")
    return a1 / area, area


def phonon_expansion(energy_mev: np.ndarray, dos: np.ndarray, temperature_k: float, mass_amu: float,
                     max_order: int, step_mev: float | None = None, top_mev: float | None = None
                     ) -> PhononExpansion:
    """A_1..A_max_order of an atom with partial DOS ``dos`` on ``energy_mev`` (>= 0; normalised here).

    Args:
        energy_mev, dos: the partial DOS on a grid of non-negative energies (any area; only its shape counts).
        temperature_k: Bose factors and the mean-square displacement.
        mass_amu: the atom's mass.
        max_order: the highest n computed.
        step_mev: step of the symmetric grid (default: the DOS grid's median step).
        top_mev: the grid covers -top..top (default: ``max_order`` x the highest energy of the DOS), so that
            no A_n loses weight at the ends.
    """
    energy = np.asarray(energy_mev, float)
    density = np.clip(np.asarray(dos, float), 0.0, None)
    if energy.ndim != 1 or energy.shape != density.shape or len(energy) < 2 or energy.min() < 0:
        raise InputError("DOS", "needs matching 1-D energies >= 0 and densities")
    if not temperature_k > 0:
        raise InputError("temperature", f"must be above 0 K (got {temperature_k})")
    if not (isinstance(max_order, int) and max_order >= 1):
        raise InputError("phonon order", f"must be an integer >= 1 (got {max_order!r})")
    step = float(step_mev or np.median(np.diff(energy)))
    highest = float(energy[np.flatnonzero(density > 0)[-1]]) if (density > 0).any() else float(energy[-1])
    top = float(top_mev or max_order * highest + 2 * step)
    half = int(math.ceil(top / step))
    grid = step * np.arange(-half, half + 1)
    magnitude = np.abs(grid)
    g = np.interp(magnitude, energy, density, right=0.0)
    g_limit = float(np.interp(DEBYE_LIMIT_MEV, energy, density))
    g = np.where(magnitude < DEBYE_LIMIT_MEV, g_limit * (magnitude / DEBYE_LIMIT_MEV) ** 2, g)
    g_area = float(np.sum(g[grid > 0]) * step)
    if not g_area > 0:
        raise InputError("DOS", "has no weight above 0 meV: no phonon expansion")
    # the area over both signs of E: int g(|E|)/|E| (n + 1 or n) dE = int_0^inf g/E coth(E / 2kT) dE = gamma
    a1, gamma = _one_phonon(grid, g / g_area, temperature_k)
    from scipy.signal import fftconvolve

    spectra = [a1]
    for _ in range(max_order - 1):  # the grid is odd and centred on 0, so "same" keeps E = 0 in the middle
        spectra.append(np.clip(fftconvolve(spectra[-1], a1, mode="same") * step, 0.0, None))
    return PhononExpansion(grid, np.stack(spectra), gamma, RECOIL_MEV_ANG2_AMU / float(mass_amu) * gamma)


def poisson_weights(two_w, max_order: int) -> np.ndarray:
    """exp(-2W) (2W)^n / n! for n = 0..max_order: the integrated weight of each term of the self term.

    Returns:
        (max_order + 1, *shape of two_w).
    """
    two_w = np.asarray(two_w, float)
    orders = np.arange(max_order + 1).reshape((-1,) + (1,) * two_w.ndim)
    log_factorial = np.array([math.lgamma(n + 1) for n in range(max_order + 1)]).reshape(orders.shape)
    with np.errstate(divide="ignore"):
        log_two_w = np.log(two_w)
    logs = orders * log_two_w[None] - two_w[None] - log_factorial
    logs = np.where((orders == 0) & (two_w[None] == 0), 0.0, logs)
    return np.exp(logs)


def incoherent_self_map(expansions: list[PhononExpansion], cross_sections_mbarn: list[float], q_inv_ang: np.ndarray,
                        energy_mev: np.ndarray, orders: range) -> np.ndarray:
    """The n-phonon self terms of a cell, sum_k sigma_k / 4 pi * exp(-2W_k) (2W_k)^n / n! * A_n,k(E) / N_atoms,
    for each n in ``orders``, in mbarn/sr/meV per atom (Euphonic's unit for its coherent map).

    Args:
        expansions: one per atom of the cell (:func:`phonon_expansion`, up to ``max(orders)``).
        cross_sections_mbarn: per atom; the incoherent one for n = 1 beside a coherent one-phonon map, the
            total (coherent + incoherent: the incoherent approximation) for n >= 2.
        q_inv_ang: (n_q,) |Q|; energy_mev: (n_e,) energies the spectra are interpolated to.

    Returns:
        (len(orders), n_q, n_e).
    """
    orders = list(orders)
    out = np.zeros((len(orders), len(q_inv_ang), len(energy_mev)))
    for expansion, sigma in zip(expansions, cross_sections_mbarn):
        if sigma <= 0:
            continue
        weights = poisson_weights(expansion.two_w(q_inv_ang), max(orders))  # (N + 1, n_q)
        for row, n in enumerate(orders):
            spectrum = np.interp(energy_mev, expansion.energy_mev, expansion.spectra[n - 1], left=0.0, right=0.0)
            out[row] += sigma / (4 * np.pi) * weights[n][:, None] * spectrum[None, :]
    return out / len(expansions)


def auto_order(two_w: list[np.ndarray], cross_sections_mbarn: list[float], tolerance: float = AUTO_ORDER_TOLERANCE,
               max_order: int = MAX_PHONON_ORDER) -> int:
    """The number of terms N: each of n = 2..N adds at least ``tolerance`` of the self scattering up to it,
    and n = N + 1 would add less. The intensities compared are the terms' integrated weights
    sigma_k exp(-2W_k) (2W_k)^n / n! summed over the atoms and the map's |Q| rows (every A_n has unit area).

    Args:
        two_w: per atom, (n_q,) 2W at the map's |Q|.
        cross_sections_mbarn: per atom, the total cross-section (the incoherent approximation).
    """
    weights = sum(sigma * poisson_weights(w, max_order).sum(axis=1) for w, sigma in zip(two_w, cross_sections_mbarn))
    for n in range(2, max_order + 1):
        if weights[n] < tolerance * float(np.sum(weights[1:n + 1])):
            return n - 1
    return max_order


def self_terms(atom_pdos, band_top_mev: float, masses_amu, incoherent_mbarn, total_mbarn, q_inv_ang: np.ndarray,
               energy_mev: np.ndarray, temperature_k: float, order="auto") -> tuple[np.ndarray, int, list[float]]:
    """The self (incoherent-approximation) terms of a cell on a map's window, from each atom's partial DOS
    over the whole phonon band.

    The mean-square displacement, the Debye-Waller factor and every A_n need the whole DOS, whatever part of
    the spectrum the map shows: a spectrometer at Ei below the band top still sees atoms that vibrate with
    all their modes. So the DOS is taken on 0..``band_top_mev`` and the terms are put on ``energy_mev``
    afterwards.

    Args:
        atom_pdos: ``atom_pdos(edges_mev) -> (n_atoms, n_bins)``, each atom's partial DOS on those bins (any
            area; each is normalised to unit area).
        band_top_mev: an energy above which no atom has modes.
        masses_amu, incoherent_mbarn, total_mbarn: per atom.
        q_inv_ang: (n_q,) |Q|; energy_mev: (n_e,) the map's energies (any window).
        temperature_k: Bose factors and mean-square displacements.
        order: ``auto`` or the highest n.

    Returns:
        ``(terms, N, msd_ang2)``: (N, n_q, n_e) with row 0 the incoherent one-phonon term (``incoherent_mbarn``)
        and row n - 1 the n-phonon term (``total_mbarn``), n = 2..N; N; per atom <u_x^2> in Å^2.
    """
    edges = self_term_edges(band_top_mev)
    step = float(edges[1] - edges[0])
    centres = 0.5 * (edges[1:] + edges[:-1])
    pdos = np.asarray(atom_pdos(edges), float)
    q = np.asarray(q_inv_ang, float)

    def expansions(highest: int):
        return [phonon_expansion(centres, pdos[atom], temperature_k, float(mass), highest, step_mev=step)
                for atom, mass in enumerate(masses_amu)]

    if order == "auto":  # the mean-square displacements decide the order before any convolution
        order = auto_order([e.two_w(q) for e in expansions(1)], list(total_mbarn))
    atoms = expansions(order)
    terms = incoherent_self_map(atoms, list(incoherent_mbarn), q, energy_mev, range(1, 2))
    if order > 1:
        terms = np.concatenate([terms, incoherent_self_map(atoms, list(total_mbarn), q, energy_mev,
                                                           range(2, order + 1))])
    return terms, order, [a.msd_ang2 for a in atoms]


def self_term_edges(band_top_mev: float) -> np.ndarray:
    """The bin edges (meV) on which :func:`self_terms` asks for the partial DOS: 0..``band_top_mev`` in at
    least 400 bins of at most 0.25 meV (a fitted energy scale needs the same bins to rescale a DOS)."""
    top = float(band_top_mev)
    if not top > 0:
        raise InputError("DOS", f"band top must be above 0 meV (got {top:g})")
    step = min(0.25, top / 400)
    return np.arange(0.0, top + step, step)


def parse_order(value) -> int | str:
    """``auto`` (or None) or an integer from 1 (one-phonon only) to :data:`MAX_PHONON_ORDER`, as
    ``--phonon-order`` takes it."""
    text = "auto" if value is None else str(value).strip().lower()
    if text == "auto":
        return "auto"
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= MAX_PHONON_ORDER:
        raise InputError("--phonon-order", f"expected auto or an integer from 1 to {MAX_PHONON_ORDER}, got "
                                           f"{text[:40]!r}")
    return int(text)
