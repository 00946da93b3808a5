"""Phonons from forces: a universal interatomic potential + finite displacements (phonopy)."""

from .phonopy_dos import PhysicsDos, PhysicsDosSettings, physics_dos, supercell_matrix

__all__ = ["PhysicsDos", "PhysicsDosSettings", "physics_dos", "supercell_matrix"]
