"""Unit conversions as named constants (CODATA 2018)."""

#: 1 THz expressed in cm^-1 (= 1e12 / c with c in cm/s).
CM1_PER_THZ = 33.35640951981521
#: 1 meV expressed in cm^-1.
CM1_PER_MEV = 8.065543937349212

#: 1 THz expressed in meV (h * 1 THz / e).
MEV_PER_THZ = CM1_PER_THZ / CM1_PER_MEV

#: Molar gas constant R = N_A k_B in J/(K mol) (exact in SI 2019).
GAS_CONSTANT_J_PER_K_MOL = 8.314462618
#: Second radiation constant h c / k_B in cm K: x = h c ω / (k_B T) = KELVIN_CM1 * ω[cm^-1] / T[K].
KELVIN_CM1 = 1.438776877
#: Energy of one mole of quanta of 1 cm^-1 (N_A h c), in J/mol.
J_PER_MOL_PER_CM1 = GAS_CONSTANT_J_PER_K_MOL * KELVIN_CM1

__all__ = ["CM1_PER_THZ", "CM1_PER_MEV", "MEV_PER_THZ", "GAS_CONSTANT_J_PER_K_MOL", "KELVIN_CM1",
           "J_PER_MOL_PER_CM1"]
