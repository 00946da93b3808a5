"""Phonons from forces: a universal interatomic potential + finite displacements (phonopy), and the
neutron observables of those force constants (Euphonic)."""

from .phonopy_dos import (POTENTIALS, FullRangeDos, PhysicsDos, PhysicsDosSettings, force_constants, physics_dos,
                          supercell_matrix)

__all__ = ["POTENTIALS", "FullRangeDos", "PhysicsDos", "PhysicsDosSettings", "force_constants", "physics_dos",
           "supercell_matrix"]
