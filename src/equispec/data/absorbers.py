"""Absorbing sites by symmetry: which atoms of a structure are inequivalent absorbers, how many sites each
stands for, and the multiplicity-weighted average a measurement of the whole sample sees."""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

from ..errors import InputError

__all__ = ["absorbing_sites", "equivalent_atoms", "site_average"]


def equivalent_atoms(structure: Structure, symprec: float = 0.01) -> np.ndarray:
    """spglib's orbit label per site (the index of the orbit's first site); each site its own orbit where
    spglib fails on an odd cell."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        return np.asarray(SpacegroupAnalyzer(structure, symprec=symprec).get_symmetry_dataset().equivalent_atoms)
    except Exception:  # spglib raises several types on degenerate input
        return np.arange(len(structure))


def absorbing_sites(structure: Structure, element: str, name: str = "structure",
                    symprec: float = 0.01) -> tuple[list[int], list[int]]:
    """Symmetry-inequivalent sites of ``element`` and their multiplicities (spglib via pymatgen).

    Equivalent absorbers have the same spectrum, so each orbit is predicted once and weighted by its
    size in the average. Raises ``InputError`` when the structure has no such atom.
    """
    if not any(site.specie.symbol == element for site in structure):
        raise InputError(name, f"has no {element} atom to absorb ({structure.composition.reduced_formula})")
    orbits = equivalent_atoms(structure, symprec)
    representatives, multiplicities = [], []
    for i, site in enumerate(structure):
        if site.specie.symbol == element and orbits[i] == i:
            representatives.append(i)
            multiplicities.append(int(np.sum(orbits == i)))
    return representatives, multiplicities


def site_average(site_values, multiplicities) -> np.ndarray:
    """What a measurement of the whole sample sees: per-site values (spectra along the last axis, or
    scalars) averaged over the inequivalent sites, each weighted by its multiplicity."""
    return np.average(np.asarray(site_values, dtype=float), axis=0, weights=np.asarray(multiplicities, dtype=float))
