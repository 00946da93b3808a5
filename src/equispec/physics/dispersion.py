"""Phonon dispersion: the branches of physics mode's force constants along a path through the Brillouin zone.

The force constants belong to the supercell, so they can be read with any primitive cell of the same crystal.
The branches are computed on phonopy's own primitive cell (``primitive_matrix="auto"``), so that a
conventional or super cell given as input does not fold them: fcc Al given as its 4-atom cube has 3 branches,
not 12. Paths come from :mod:`equispec.physics.q_path` (seekpath's standard path, or the user's). Imaginary
modes are negative frequencies, as phonopy reports them. Units: THz (meV beside them in JSON), Q in 1/Å.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..io.units import MEV_PER_THZ
from .q_path import POINTS_PER_INV_ANG, PathFrame, PathSamples, QPath, path_frame, resolve_path, sample_path

__all__ = ["Dispersion", "phonon_dispersion", "primitive_phonon", "frequencies_thz", "IMAGINARY_THRESHOLD_THZ"]

#: Branches below minus this (0.3 THz = 10 cm^-1, physics mode's threshold for its DOS) are reported as imaginary.
IMAGINARY_THRESHOLD_THZ = 0.3


def primitive_phonon(phonon):
    """A ``phonopy.Phonopy`` on the primitive cell of ``phonon``'s unit cell holding the same supercell force
    constants (``phonon`` itself when its cell is already primitive or no primitive cell is found)."""
    from phonopy import Phonopy

    fc = phonon.force_constants
    supercell = phonon.supercell
    if fc is None or fc.shape[:2] != (len(supercell), len(supercell)):  # compact force constants: keep the cell
        return phonon
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            primitive = Phonopy(phonon.unitcell, supercell_matrix=phonon.supercell_matrix, primitive_matrix="auto")
        except Exception:  # phonopy finds no primitive cell commensurate with the supercell: the cell as given
            return phonon
    if len(primitive.primitive) == len(phonon.primitive):
        return phonon
    primitive.force_constants = fc
    return primitive


def frequencies_thz(phonon, q_cart: np.ndarray) -> np.ndarray:
    """(n, 3 x atoms of the primitive cell) frequencies at Cartesian Q (1/Å, the structure's frame), in THz,
    imaginary ones negative. ``phonon``: as :func:`primitive_phonon` returns it."""
    lattice = np.asarray(phonon.primitive.cell, float)
    q_frac = np.asarray(q_cart, float) @ lattice.T / (2.0 * np.pi)
    phonon.run_qpoints(q_frac)
    return np.asarray(phonon.get_qpoints_dict()["frequencies"], float)


@dataclass
class Dispersion:
    """Phonon branches along a path.

    Attributes:
        name: the prediction.
        path_text: the path as given or seekpath's, in the module's syntax.
        samples: the Q points (Cartesian 1/Å, distances, labels, breaks).
        q_rlu: (n, 3) the same Q in r.l.u. of the conventional cell.
        frequencies_thz: (n, n_branches), ascending at each Q; imaginary ones negative.
        primitive_lattice: (3, 3) rows, Å: the cell the branches belong to.
        structure: the input structure.
        details: JSON-ready: seekpath's Bravais lattice, imaginary modes, where the force constants came from.
    """

    name: str
    path_text: str
    samples: PathSamples
    q_rlu: np.ndarray
    frequencies_thz: np.ndarray
    primitive_lattice: np.ndarray
    structure: object = None
    details: dict = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return self.samples.labels

    @property
    def distance_inv_ang(self) -> np.ndarray:
        return self.samples.distance

    @property
    def imaginary(self) -> dict:
        """Lowest frequency and the share of (Q, branch) values below ``-IMAGINARY_THRESHOLD_THZ``."""
        low = float(self.frequencies_thz.min())
        return {"min_frequency_thz": low, "threshold_thz": IMAGINARY_THRESHOLD_THZ,
                "share": float(np.mean(self.frequencies_thz < -IMAGINARY_THRESHOLD_THZ)),
                "at_q_rlu": [round(float(x), 4) for x in self.q_rlu[np.unravel_index(
                    np.argmin(self.frequencies_thz), self.frequencies_thz.shape)[0]]]}

    @property
    def band_structure(self):
        """pymatgen ``PhononBandStructureSymmLine`` (THz), labelled at the path's vertices."""
        from pymatgen.core import Lattice
        from pymatgen.phonon.bandstructure import PhononBandStructureSymmLine

        reciprocal = Lattice(self.primitive_lattice).reciprocal_lattice
        labels = {label: q for label, q in zip(self.labels, self.samples.q_cart) if label}
        return PhononBandStructureSymmLine(self.samples.q_cart, self.frequencies_thz.T, reciprocal, labels_dict=labels,
                                           coords_are_cartesian=True, structure=self.structure)

    def summary_line(self) -> str:
        imaginary = self.imaginary
        note = (f"; imaginary branches down to {imaginary['min_frequency_thz']:.2f} THz at Q = "
                f"{tuple(imaginary['at_q_rlu'])} r.l.u. ({100 * imaginary['share']:.1f}% of the values)"
                if imaginary["share"] > 0 else "; no imaginary branch")
        return (f"{self.name}: dispersion along {self.path_text}, {len(self.samples.q_cart)} Q points, "
                f"{self.frequencies_thz.shape[1]} branches, top {self.frequencies_thz.max():.2f} THz "
                f"({self.frequencies_thz.max() * MEV_PER_THZ:.1f} meV){note}")

    def to_dict(self) -> dict:
        return {"name": self.name, "path": self.path_text, "distance_inv_ang": self.samples.distance.tolist(),
                "labels": list(self.labels), "breaks": list(self.samples.breaks),
                "q_rlu": np.round(self.q_rlu, 8).tolist(), "q_cart_inv_ang": np.round(self.samples.q_cart, 8).tolist(),
                "frequencies_thz": self.frequencies_thz.tolist(), "imaginary": self.imaginary,
                "primitive_lattice_ang": self.primitive_lattice.tolist(), "details": self.details}


def phonon_dispersion(phonon, structure, path: QPath | str | None = None, frame: PathFrame | None = None,
                      name: str = "structure", points_per_inv_ang: float | None = None) -> Dispersion:
    """Branches of ``phonon``'s force constants along ``path`` (None: seekpath's standard path of
    ``structure``; text or a file of Q points as :func:`~equispec.physics.q_path.resolve_path` takes them).

    Args:
        phonon: a ``phonopy.Phonopy`` with force constants (``PhononDosPrediction.force_constants``).
        structure: the pymatgen structure those force constants belong to.
        frame: ``path_frame(structure)`` when already at hand.
        points_per_inv_ang: sampling density along the path (default: the q_path module's).
    """
    if phonon is None or getattr(phonon, "force_constants", None) is None:
        raise InputError(name, "a dispersion needs force constants: use --mode physics or hybrid")
    frame = frame or path_frame(structure)
    source = "seekpath" if path is None else "user"
    path = resolve_path(path, frame)
    samples = sample_path(path, points_per_inv_ang or POINTS_PER_INV_ANG)
    primitive = primitive_phonon(phonon)
    frequencies = frequencies_thz(primitive, samples.q_cart)
    details = {"bravais_lattice": frame.bravais, "primitive_atoms": len(primitive.primitive),
               "input_atoms": len(structure), "path_source": source}
    return Dispersion(name, path.text, samples, frame.to_rlu(samples.q_cart), frequencies,
                      np.asarray(primitive.primitive.cell, float), structure, details)
