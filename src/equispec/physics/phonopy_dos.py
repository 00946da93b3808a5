"""Phonon DOS from forces: finite displacements in a supercell (phonopy), forces from any ASE
calculator (by default SevenNet-0), then the very processing of the training labels.

Choices, for the record (they are the defaults of :class:`PhysicsDosSettings`):

- potential: a name of :data:`equispec.nn.pretrained.table.POTENTIALS` (SevenNet-0, SevenNet-l3i5, SevenNet-MF-0 at
  either fidelity, CHGNet); the ones that ship in the ``sevenn`` wheel need no extra;
- the input cell is used as given, so the forces at zero displacement are whatever the potential thinks
  of the DFT geometry (phonopy's symmetric +/- displacements cancel their first order); ``relax=True``
  first relaxes the atomic positions at fixed cell (ASE BFGS until every force is below
  ``relax_fmax_ev_per_ang``, 0.005 eV/Å, at most ``relax_steps``);
- supercell: each lattice vector repeated ``ceil(L / |a_i|)`` times, L twice the potential's cutoff (10 Å for
  SevenNet, 12 Å for CHGNet; :attr:`equispec.nn.pretrained.table.Potential.supercell_ang`);
- displacement 0.01 Å (phonopy's default for VASP);
- DOS: phonopy's tetrahedron method on a q-mesh of length 40 Å (phonopy's automatic mesh), 1 cm^-1
  steps, then ``data.phdos_processing`` (Savitzky–Golay 101 cm^-1, 51 bins on 0-1000 cm^-1,
  max-normalised), exactly as the DFPT labels were made. Element-resolved partial DOS go through the
  same smoothing and share the total's normalisation, so they add up to it.
- imaginary modes: mesh frequencies below ``-imaginary_threshold_cm1`` (10 cm^-1) are counted and
  reported; they fall outside the 0-1000 cm^-1 grid, as in the labels.
- the full-range DOS (:class:`FullRangeDos`) is the same tetrahedron DOS with no smoothing, on
  ``full_step_mev`` steps from 0 to 5 % above the highest mode: what an instrument of that resolution
  would see before its own broadening, at any energy the material has modes.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from pymatgen.core import Structure

from ..data.phdos_processing import PHDOS_GRID_CM1, smooth_raw_dos
from ..errors import InputError, ModelError
from ..io.units import CM1_PER_THZ, MEV_PER_THZ
from ..nn.pretrained.table import DEFAULT_POTENTIAL, POTENTIAL_NAMES, check_installed, get_potential
from .forces import ase_calculator, displaced_forces

__all__ = ["POTENTIALS", "PhysicsDosSettings", "PhysicsDos", "FullRangeDos", "physics_dos", "force_constants",
           "scale_frequencies", "supercell_matrix"]

#: Universal potentials for the forces (the names of :data:`equispec.nn.pretrained.table.POTENTIALS`).
POTENTIALS = POTENTIAL_NAMES


@dataclass
class PhysicsDosSettings:
    supercell_ang: float | None = None  # minimum supercell length along each lattice vector; None: the
    # potential's own (twice its cutoff: 10 Å for SevenNet, 12 Å for CHGNet)
    displacement_ang: float = 0.01
    mesh_length_ang: float = 40.0  # phonopy's automatic q-mesh density
    imaginary_threshold_cm1: float = 10.0
    displacements: str = "finite"  # or "random": snapshots fitted with symfc (see generate_displacements)
    random_snapshot_factor: float = 4.0  # random snapshots = ceil(factor x symfc's minimum), each with its mirror
    random_seed: int = 0
    frequency_scale: float = 1.0  # multiply every frequency (a fitted correction for a soft potential)
    potential: str = DEFAULT_POTENTIAL
    relax: bool = False  # relax atomic positions at fixed cell before the displacements
    relax_fmax_ev_per_ang: float = 0.005
    relax_steps: int = 200
    full_step_mev: float = 0.1  # step of the full-range DOS (finer than spectrometers resolve)
    partial_share_step_cm1: float = 1.0  # step on which each atom's share of the DOS is computed (the label grid's)

    def supercell_length_ang(self) -> float:
        """The minimum supercell length in force: ``supercell_ang``, or the potential's own."""
        return self.supercell_ang or get_potential(self.potential).supercell_ang


@dataclass
class FullRangeDos:
    """A phonon DOS over a material's whole frequency range at native resolution (no label smoothing).

    Attributes:
        energy_mev: (n,) uniform grid from 0 to above the highest mode, in meV.
        dos: (n,) states per meV per cell (integrates to 3 x atoms for a stable structure).
        partial_dos: element -> (n,) states per meV of that element's atoms; they add up to ``dos``
            (empty when the partial DOS was not computed).
    """

    energy_mev: np.ndarray
    dos: np.ndarray
    partial_dos: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def phonon_dos(self):
        """pymatgen ``PhononDos``: frequencies in THz, densities in states per THz per cell."""
        from pymatgen.phonon.dos import PhononDos

        return PhononDos(self.energy_mev / MEV_PER_THZ, self.dos * MEV_PER_THZ)

    def to_dict(self) -> dict:
        return {"energy_mev": self.energy_mev.tolist(), "dos": self.dos.tolist(),
                "partial_dos": {el: v.tolist() for el, v in self.partial_dos.items()}}


@dataclass
class PhysicsDos:
    """A force-constant phonon DOS, raw and processed like the training labels."""

    name: str
    structure: Structure
    freq_cm1: np.ndarray  # (51,) the label grid
    dos: np.ndarray  # (51,) max-normalised
    partial_dos: dict[str, np.ndarray]  # element -> (51,), same normalisation as ``dos``
    raw_freq_cm1: np.ndarray  # phonopy's grid (1 cm^-1 steps), before smoothing
    raw_dos: np.ndarray  # states per cm^-1 per cell (3N modes in all)
    imaginary_fraction: float  # share of mesh modes below -imaginary_threshold_cm1
    min_frequency_cm1: float
    supercell: list[int]
    num_displacements: int
    seconds: float
    settings: PhysicsDosSettings = field(default_factory=PhysicsDosSettings)
    full_range: FullRangeDos | None = None
    phonon: object = None  # the phonopy.Phonopy object with the force constants (for Euphonic)


def supercell_matrix(structure: Structure, min_length_ang: float) -> list[int]:
    """Repetitions of each lattice vector so that each is at least ``min_length_ang`` long."""
    return [max(1, math.ceil(min_length_ang / length - 1e-9)) for length in structure.lattice.abc]


def relax_positions(structure: Structure, calculator, settings: PhysicsDosSettings, name: str) -> Structure:
    """Atomic positions relaxed at fixed cell (ASE BFGS) until every force is below
    ``settings.relax_fmax_ev_per_ang``; a potential that cannot get there in ``relax_steps`` is an error."""
    from ase import Atoms
    from ase.optimize import BFGS

    from ..nn.pretrained import float32_default

    atoms = Atoms([s.specie.symbol for s in structure], cell=structure.lattice.matrix,
                  scaled_positions=structure.frac_coords, pbc=True)
    atoms.calc = calculator
    with float32_default():
        converged = BFGS(atoms, logfile=None).run(fmax=settings.relax_fmax_ev_per_ang, steps=settings.relax_steps)
    if not converged:
        raise InputError(name, f"relaxation did not reach {settings.relax_fmax_ev_per_ang} eV/Å in "
                               f"{settings.relax_steps} steps")
    return Structure(structure.lattice, structure.species, atoms.get_scaled_positions(wrap=False))


def force_constants(structure: Structure, calculator=None, name: str = "structure",
                    settings: PhysicsDosSettings | None = None, forces: np.ndarray | None = None,
                    relaxed_frac_coords: np.ndarray | None = None, device: str = "cpu"):
    """Force constants of ``structure`` (relaxed first if ``settings.relax``) from displaced supercells
    (finite or random displacements: :func:`generate_displacements`).

    ``forces`` (and, with ``settings.relax``, ``relaxed_frac_coords``) are those of an earlier run with the same
    settings (the physics cache): the displacements are deterministic (random ones are seeded), so no force is
    evaluated again and the force constants are those of that run to the last bit. ``device``: where the
    potential computes the forces (``cpu``, ``cuda``, ``cuda:1``).

    Returns:
        ``(phonon, structure, repeats)``: a ``phonopy.Phonopy`` holding symmetrised force constants (its
        ``raw_forces`` attribute: the (n_displacements, n_supercell_atoms, 3) forces in eV/Å as the potential
        gave them; ``displacement_method``: ``finite`` or ``random``), the structure they belong to (relaxed or
        as given) and the supercell repetitions.

    Raises:
        ModelError: phonopy is not installed, or ``settings.potential`` is unknown.
        InputError: the forces are not finite, or the relaxation did not converge.
    """
    try:
        from phonopy import Phonopy
        from phonopy.structure.atoms import PhonopyAtoms
    except ImportError:
        raise ModelError("physics", "needs phonopy: pip install 'equispec[physics]'") from None
    settings = settings or PhysicsDosSettings()
    potential = get_potential(settings.potential)
    check_installed(potential)
    if settings.relax and relaxed_frac_coords is not None:
        structure = Structure(structure.lattice, structure.species, np.asarray(relaxed_frac_coords, float))
    elif settings.relax:  # through the ASE calculator: BFGS asks for one structure's forces at a time
        structure = relax_positions(structure, calculator or ase_calculator(potential.name), settings, name)
    unit = PhonopyAtoms(symbols=[s.specie.symbol for s in structure], cell=structure.lattice.matrix,
                        scaled_positions=structure.frac_coords)
    repeats = supercell_matrix(structure, settings.supercell_length_ang())
    with warnings.catch_warnings():  # phonopy's notes on supercell vs primitive point groups are not for users
        warnings.simplefilter("ignore", UserWarning)
        phonon = Phonopy(unit, supercell_matrix=np.diag(repeats), primitive_matrix="P")  # rows = our sites
        method = generate_displacements(phonon, settings)
    # without a calculator: the potential's native module, in batched passes
    cells = phonon.supercells_with_displacements
    if forces is None or np.shape(forces) != (len(cells), len(cells[0]), 3):
        forces = displaced_forces(cells, calculator, potential, device)
    forces = np.asarray(forces, dtype=float)
    if not np.isfinite(forces).all():
        raise InputError(name, "the potential returned non-finite forces")
    phonon.forces = forces - forces.mean(axis=1, keepdims=True)  # no net force on a displaced supercell
    if method == "random":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            phonon.produce_force_constants(fc_calculator="symfc", fc_calculator_log_level=0)
    else:
        phonon.produce_force_constants()
        phonon.symmetrize_force_constants()
    phonon.displacement_method = method
    phonon.raw_forces = forces
    return phonon, structure, repeats


def generate_displacements(phonon, settings: PhysicsDosSettings) -> str:
    """Put the displaced supercells of ``settings.displacements`` on ``phonon``; returns ``finite`` or ``random``.

    ``finite``: phonopy's systematic displacements, one atom at a time. ``random``: every atom displaced by
    ``displacement_ang`` in a random direction (seeded), each snapshot with its mirror (-u), and the force
    constants fitted in symfc's symmetry-adapted basis. The mirrors are needed: they cancel the forces of the
    undisplaced input (rarely the potential's minimum) and the cubic term, as finite +/- pairs do; without
    them the force constants were off by 1-16 % (SevenNet-0, three valid materials). symfc gives the fewest
    snapshots that determine the basis; ``random_snapshot_factor`` times that are taken (4, phonopy's own
    safety factor: at 1 or 2 the fit came out near zero for CaHCl). With that margin random snapshots need
    more supercells than finite displacements for every one of 20 valid materials and for P1 cells of 4-12
    atoms (twice as many), so ``finite`` is the default; ``random`` is there for cells where symfc's basis is
    much smaller than the finite set, and agrees with it (force constants of a harmonic spring crystal within
    2e-5, SevenNet-0 force constants of valid materials within 2e-3).
    """
    method = settings.displacements
    if method not in ("finite", "random"):
        raise ModelError(method, "unknown displacement method (finite or random)")
    if method == "random":
        from phonopy.interface.symfc import SymfcFCSolver

        minimum = SymfcFCSolver(phonon.supercell, symmetry=phonon.symmetry).estimate_numbers_of_supercells(
            orders=[2])[2]
        snapshots = max(1, math.ceil(settings.random_snapshot_factor * minimum - 1e-9))
        phonon.generate_displacements(distance=settings.displacement_ang, number_of_snapshots=snapshots,
                                      random_seed=settings.random_seed, is_plusminus=True)
    else:
        phonon.generate_displacements(distance=settings.displacement_ang)
    return method


def scale_frequencies(frequencies, density, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The hybrid's frequency correction: every frequency times ``scale``, the density divided by it, so that
    the number of modes is kept. The one place it is applied (here and on cached raw DOS)."""
    return np.asarray(frequencies, dtype=float) * scale, np.asarray(density, dtype=float) / scale


def physics_dos(structure: Structure, calculator=None, name: str = "structure",
                settings: PhysicsDosSettings | None = None, partial: bool = True, forces: np.ndarray | None = None,
                relaxed_frac_coords: np.ndarray | None = None, device: str = "cpu") -> PhysicsDos:
    """Finite-displacement phonon DOS of ``structure`` with forces from ``calculator`` (ASE interface;
    default: ``settings.potential``).

    ``partial=False`` skips the element-resolved DOS (which needs eigenvectors on the full q-mesh and
    is most of the time for small cells) and leaves ``partial_dos`` empty. ``forces`` and
    ``relaxed_frac_coords``: from an earlier run, see :func:`force_constants`.

    Returns:
        :class:`PhysicsDos` with both the label-processed 51-bin DOS and the full-range one.

    Raises:
        ModelError: phonopy is not installed.
        InputError: the forces are not finite, or every mode is imaginary (nothing on 0-1000 cm^-1).
    """
    settings = settings or PhysicsDosSettings()
    started = time.perf_counter()
    phonon, structure, repeats = force_constants(structure, calculator, name, settings, forces, relaxed_frac_coords,
                                                 device)

    scale = settings.frequency_scale
    phonon.run_mesh(settings.mesh_length_ang)
    mesh = phonon.get_mesh_dict()
    mesh_cm1 = mesh["frequencies"] * CM1_PER_THZ * scale
    weights = np.broadcast_to(np.asarray(mesh["weights"], dtype=float)[:, None], mesh_cm1.shape)
    pitch_thz = 1.0 / CM1_PER_THZ / scale  # 1 cm^-1 after scaling
    top_thz = max(float(mesh_cm1.max()) / CM1_PER_THZ / scale, 1.0) + 2 * pitch_thz
    phonon.run_total_dos(freq_min=0.0, freq_max=top_thz, freq_pitch=pitch_thz)
    dos = phonon.get_total_dos_dict()
    raw_cm1, total = scale_frequencies(dos["frequency_points"] * CM1_PER_THZ, dos["total_dos"] / CM1_PER_THZ, scale)

    # the full-range grid: fine steps to 5 % above the highest mode (after scaling)
    full_pitch_thz = settings.full_step_mev / MEV_PER_THZ / scale
    full_top_thz = 1.05 * max(float(mesh_cm1.max()) / CM1_PER_THZ / scale, 1.0) + 2 * full_pitch_thz
    phonon.run_total_dos(freq_min=0.0, freq_max=full_top_thz, freq_pitch=full_pitch_thz)
    full = phonon.get_total_dos_dict()
    full_mev, full_total = scale_frequencies(full["frequency_points"] * MEV_PER_THZ, full["total_dos"] / MEV_PER_THZ,
                                             scale)

    per_atom, full_per_atom = [], []
    if partial:
        # each atom's share of the total at each frequency. Projections need the full q-mesh (no symmetry
        # reduction), on which phonopy's tetrahedron DOS loses weight at van Hove singularities (spring
        # model: 2.82 of 3 modes, against 2.96 on the reduced mesh), so that mesh gives the split only. The
        # tetrahedron weights cost as much per frequency point as the rest put together, so the shares are
        # computed once, every ``partial_share_step_cm1``, and interpolated onto both grids
        phonon.run_mesh(settings.mesh_length_ang, is_mesh_symmetry=False, with_eigenvectors=True)
        share_pitch_thz = settings.partial_share_step_cm1 / CM1_PER_THZ
        phonon.run_projected_dos(freq_min=0.0, freq_max=max(top_thz, full_top_thz) + share_pitch_thz,
                                 freq_pitch=share_pitch_thz)
        projected_dict = phonon.get_projected_dos_dict()
        projected = np.clip(projected_dict["projected_dos"], 0.0, None)
        norm = projected.sum(axis=0)
        share = np.where(norm > 0, projected / np.where(norm > 0, norm, 1.0), 1.0 / len(projected))
        for points_thz, density, out in ((dos["frequency_points"], total, per_atom),
                                         (full["frequency_points"], full_total, full_per_atom)):
            out.extend(np.interp(points_thz, projected_dict["frequency_points"], atom_share) * density
                       for atom_share in share)

    smoothed = smooth_raw_dos(raw_cm1, total, name)
    peak = smoothed.max()
    if not peak > 0:
        raise InputError(name, "no real phonon modes between 0 and 1000 cm^-1 (the structure is unstable "
                               "for this potential)")
    by_element: dict[str, np.ndarray] = {}
    full_by_element: dict[str, np.ndarray] = {}
    for site, density, fine in zip(structure, per_atom, full_per_atom):
        element = site.specie.symbol
        by_element[element] = by_element.get(element, 0.0) + smooth_raw_dos(raw_cm1, density, name) / peak
        full_by_element[element] = full_by_element.get(element, 0.0) + fine
    return PhysicsDos(
        name=name, structure=structure, freq_cm1=PHDOS_GRID_CM1.copy(), dos=smoothed / peak, partial_dos=by_element,
        raw_freq_cm1=raw_cm1, raw_dos=total,
        imaginary_fraction=float(np.average(mesh_cm1 < -settings.imaginary_threshold_cm1, weights=weights)),
        min_frequency_cm1=float(mesh_cm1.min()), supercell=repeats,
        num_displacements=len(phonon.supercells_with_displacements),
        seconds=time.perf_counter() - started, settings=settings,
        full_range=FullRangeDos(full_mev, full_total, full_by_element), phonon=phonon)
