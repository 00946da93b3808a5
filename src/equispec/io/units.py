"""Unit conversions as named constants (CODATA 2018)."""

#: 1 THz expressed in cm^-1 (= 1e12 / c with c in cm/s).
CM1_PER_THZ = 33.35640951981521
#: 1 meV expressed in cm^-1.
CM1_PER_MEV = 8.065543937349212

#: 1 THz expressed in meV (h * 1 THz / e).
MEV_PER_THZ = CM1_PER_THZ / CM1_PER_MEV

__all__ = ["CM1_PER_THZ", "CM1_PER_MEV", "MEV_PER_THZ"]
