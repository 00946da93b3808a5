"""Harmonic thermodynamics of a phonon DOS: heat capacity, entropy, Helmholtz free energy, mean frequency.

The predicted (and training) DOS is max-normalised and sampled on a coarse grid (51 points, 0..1000 cm^-1,
20 cm^-1 apart), so two choices matter more than the formulas:

* **Normalisation.** The DOS is rescaled so that it integrates to 3N modes per cell (N atoms) over the
  grid. Everything above the grid's last point is cut off in the data, so those modes are put back inside
  the grid by this rescaling (materials with O-H or C-H stretches lose weight at high frequency).
* **Integration.** The DOS is taken as piecewise linear between its points, which is what the trapezoid
  rule integrates exactly; the thermal weight functions (which vary fast at low T and, for S and F, have an
  integrable logarithmic singularity at ω = 0) are integrated on a finer midpoint sub-grid of each interval.
  A non-zero first (ω = 0) point, which smoothing and prediction often leave, is thus kept and integrated
  rather than dropped.

pymatgen's ``PhononDos.cv/entropy/helmholtz_free_energy`` implement the same formulas (per mole of cells, or
of formula units when given a structure) but expect states/THz integrating to 3N, apply the trapezoid rule to
weight × DOS on the grid itself (coarse for the fast-varying weights at 20 cm^-1 spacing) and, in the installed
version, drop the ω = 0 sample of S and F with a warning. The numpy version here does the renormalisation itself
and integrates on the sub-grid; the tests check it against pymatgen on a fine grid, where the two must agree.

Results are per mole of atoms; ``PhononThermodynamics.per_formula_unit()`` multiplies by the number of atoms
in the reduced formula (per mole of formula units, pymatgen's convention when given a structure).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import InputError
from ..io.units import GAS_CONSTANT_J_PER_K_MOL, J_PER_MOL_PER_CM1, KELVIN_CM1

__all__ = ["PhononThermodynamics", "phonon_thermodynamics", "mean_frequency_cm1"]

#: Midpoints per grid interval for the thermal weight functions (the DOS itself is linear in an interval).
SUBDIVISIONS = 32


@dataclass
class PhononThermodynamics:
    """Harmonic thermodynamics of one DOS.

    Attributes:
        temperatures_k: (n_t,) temperatures in K.
        cv_j_per_k_mol: (n_t,) isochoric heat capacity in J/(K mol).
        entropy_j_per_k_mol: (n_t,) vibrational entropy in J/(K mol).
        free_energy_kj_per_mol: (n_t,) vibrational Helmholtz free energy in kJ/mol, zero-point energy included.
        zero_point_energy_kj_per_mol: zero-point energy in kJ/mol.
        mean_freq_cm1: first moment of the DOS in cm^-1 (independent of the per-mole basis).
        atoms_per_formula_unit: atoms in the reduced formula (1 when no structure was given).
        per: ``"atom"`` (per mole of atoms) or ``"formula unit"`` (per mole of formula units).
    """

    temperatures_k: np.ndarray
    cv_j_per_k_mol: np.ndarray
    entropy_j_per_k_mol: np.ndarray
    free_energy_kj_per_mol: np.ndarray
    zero_point_energy_kj_per_mol: float
    mean_freq_cm1: float
    atoms_per_formula_unit: int = 1
    per: str = "atom"

    def per_formula_unit(self) -> "PhononThermodynamics":
        """The same quantities per mole of formula units (reduced formula)."""
        if self.per != "atom":
            return self
        n = self.atoms_per_formula_unit
        return replace(self, cv_j_per_k_mol=self.cv_j_per_k_mol * n, entropy_j_per_k_mol=self.entropy_j_per_k_mol * n,
                       free_energy_kj_per_mol=self.free_energy_kj_per_mol * n,
                       zero_point_energy_kj_per_mol=self.zero_point_energy_kj_per_mol * n, per="formula unit")

    def to_dict(self) -> dict:
        return {"per": f"mole of {self.per}s", "atoms_per_formula_unit": self.atoms_per_formula_unit,
                "temperatures_k": self.temperatures_k.tolist(), "cv_j_per_k_mol": self.cv_j_per_k_mol.tolist(),
                "entropy_j_per_k_mol": self.entropy_j_per_k_mol.tolist(),
                "free_energy_kj_per_mol": self.free_energy_kj_per_mol.tolist(),
                "zero_point_energy_kj_per_mol": self.zero_point_energy_kj_per_mol,
                "mean_freq_cm1": self.mean_freq_cm1}


def _check_dos(freq_cm1, dos, source: str) -> tuple[np.ndarray, np.ndarray]:
    freq_cm1, dos = np.asarray(freq_cm1, dtype=float), np.asarray(dos, dtype=float)
    if freq_cm1.ndim != 1 or freq_cm1.shape != dos.shape or len(freq_cm1) < 2:
        raise InputError(source, f"frequency grid {freq_cm1.shape} and DOS {dos.shape} must be matching 1-D arrays")
    if freq_cm1[0] < 0 or np.any(np.diff(freq_cm1) <= 0):
        raise InputError(source, "frequency grid must start at >= 0 cm^-1 and increase")
    if not np.all(np.isfinite(dos)) or np.any(dos < 0) or np.trapezoid(dos, freq_cm1) <= 0:
        raise InputError(source, "DOS must be finite, >= 0 and not all zero")
    return freq_cm1, dos


def _subgrid(freq_cm1: np.ndarray, dos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Midpoints, the linearly interpolated DOS there and their widths: sums over them integrate the
    piecewise-linear DOS exactly (and match ``np.trapezoid(dos, freq_cm1)``)."""
    fractions = (np.arange(SUBDIVISIONS) + 0.5) / SUBDIVISIONS
    left, width = freq_cm1[:-1, None], np.diff(freq_cm1)[:, None]
    mid = (left + fractions * width).ravel()
    weights = np.broadcast_to(width / SUBDIVISIONS, (len(width), SUBDIVISIONS)).ravel()
    return mid, np.interp(mid, freq_cm1, dos), weights


def mean_frequency_cm1(freq_cm1, dos) -> float:
    """First moment ∫ω g dω / ∫g dω of the piecewise-linear DOS, in cm^-1."""
    freq_cm1, dos = _check_dos(freq_cm1, dos, "dos")
    mid, g, w = _subgrid(freq_cm1, dos)
    return float((mid * g * w).sum() / (g * w).sum())


def phonon_thermodynamics(freq_cm1, dos, temperatures_k, structure=None, source: str = "dos") -> PhononThermodynamics:
    """Harmonic Cv, S, F and mean frequency of a DOS of any normalisation, per mole of atoms.

    With g(ω) rescaled to 3 modes per atom and x = hcω/(k_B T):
    Cv = R ∫ g x² eˣ/(eˣ-1)² dω, S = R ∫ g [x/(eˣ-1) - ln(1-e⁻ˣ)] dω,
    F = N_A ∫ g [hcω/2 + k_B T ln(1-e⁻ˣ)] dω.

    Args:
        freq_cm1: (n,) increasing frequency grid in cm^-1, starting at >= 0.
        dos: (n,) DOS on that grid, any scale (e.g. max-normalised): it is renormalised to 3N.
        temperatures_k: temperature or (n_t,) temperatures in K, all > 0.
        structure: pymatgen ``Structure``: only its reduced formula is used, for ``per_formula_unit()``.
        source: name used in error messages.

    Returns:
        ``PhononThermodynamics`` per mole of atoms (high-T limit of Cv: 3R = 24.94 J/(K mol)).
    """
    freq_cm1, dos = _check_dos(freq_cm1, dos, source)
    temperatures = np.atleast_1d(np.asarray(temperatures_k, dtype=float))
    if temperatures.ndim != 1 or not np.all(np.isfinite(temperatures)) or np.any(temperatures <= 0):
        raise InputError("temperatures_k", "temperatures must be finite and > 0 K")
    mid, g, w = _subgrid(freq_cm1, dos)
    modes = g * w * (3.0 / (g * w).sum())  # 3 modes per atom, per sub-interval
    x = KELVIN_CM1 * mid[None, :] / temperatures[:, None]  # (n_t, n_sub), > 0 (midpoints)
    exp_m = np.exp(-x)
    # x^2 e^x / (e^x - 1)^2 written with e^-x so that large x does not overflow
    cv = GAS_CONSTANT_J_PER_K_MOL * (x ** 2 * exp_m / (-np.expm1(-x)) ** 2 * modes).sum(1)
    log_term = np.log(-np.expm1(-x))  # ln(1 - e^-x)
    entropy = GAS_CONSTANT_J_PER_K_MOL * ((x * exp_m / (-np.expm1(-x)) - log_term) * modes).sum(1)
    zero_point = J_PER_MOL_PER_CM1 * 0.5 * float((mid * modes).sum())
    free = zero_point + GAS_CONSTANT_J_PER_K_MOL * temperatures * (log_term * modes).sum(1)
    atoms_per_fu = 1
    if structure is not None:
        atoms_per_fu = int(round(structure.composition.reduced_composition.num_atoms))
    return PhononThermodynamics(temperatures, cv, entropy, free / 1e3, zero_point / 1e3,
                                float((mid * g * w).sum() / (g * w).sum()), atoms_per_fu)
