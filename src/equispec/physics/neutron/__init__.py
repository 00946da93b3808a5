"""Neutron observables of force constants with Euphonic: neutron-weighted DOS, powder S(|Q|, E), and what
a direct-geometry spectrometer sees of it (kinematic range, energy resolution).

Euphonic (Fair et al., J. Appl. Cryst. 55, 1689 (2022); GPL-3.0, an optional dependency: ``pip install
'equispec[neutron]'``) takes phonopy's force constants, interpolates phonons anywhere in reciprocal space and
computes the coherent one-phonon structure factor with Debye-Waller and Bose factors. Named spectrometer
resolutions come from ``resins`` (PyChop fits and published models for ARCS, SEQUOIA, MAPS, MARI, MERLIN,
LET, TOSCA, VISION, ...; GPL-3.0, same extra); otherwise a Gaussian FWHM constant or polynomial in E.

Units at this boundary: |Q| in 1/Å, energies in meV, temperatures in K. Intensities are Euphonic's:
mbarn per meV per atom of the cell (S(Q,E) in mbarn/sr/meV per atom, a powder average over |Q| spheres).

One module per concern: ``weights`` (sigma/M weights, the weight -> broaden -> unit-area chain
:func:`ins_dos`), ``euphonic_engine`` (force constants into Euphonic, mesh modes, DOS), ``powder`` (S(|Q|, E)
maps), ``kinematics`` (kinematic range, instrument resolution) and ``spectra`` (:func:`ins_spectra`). Their
module-level imports are numpy and the standard library only: Euphonic, resins and periodictable load when
a function needs them.
"""

from __future__ import annotations

from .euphonic_engine import euphonic_dos, euphonic_force_constants, euphonic_neutron_dos, quiet_euphonic
from .kinematics import (DEFAULT_ANGLES_DEG, MAP_ENERGY_BINS, NEUTRON_MEV_ANG2, broaden_map, energy_resolution,
                         instrument_resolution, kinematic_limits, kinematic_mask, map_energies)
from .powder import PowderMap, PowderModes, powder_map, powder_modes
from .spectra import InsSpectra, ins_spectra
from .weights import InsDos, ins_dos, neutron_weighted_dos, neutron_weights

# Private helpers that ``physics.single_crystal`` and tests import from here, where they lived before the split.
from .euphonic_engine import _mesh_modes  # noqa: E402, F401
from .kinematics import _describe  # noqa: E402, F401
from .powder import _band_top_mev  # noqa: E402, F401

__all__ = ["InsSpectra", "ins_spectra", "neutron_weights", "neutron_weighted_dos", "PowderMap", "PowderModes",
           "euphonic_force_constants", "euphonic_dos", "euphonic_neutron_dos", "powder_map", "powder_modes",
           "kinematic_limits", "kinematic_mask", "instrument_resolution", "broaden_map", "map_energies",
           "NEUTRON_MEV_ANG2", "DEFAULT_ANGLES_DEG", "MAP_ENERGY_BINS", "InsDos", "ins_dos", "energy_resolution",
           "quiet_euphonic"]
