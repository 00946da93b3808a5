"""The coherent one-phonon S(Q, E) of a single crystal along a path in reciprocal space, as a triple-axis or
time-of-flight single-crystal spectrometer measures it along (h, 0, 0) and friends.

Euphonic (GPL-3.0, optional: ``pip install 'equispec[neutron]'``) interpolates the phonons of the force
constants at each Q and gives each mode's one-phonon structure factor |F(Q, nu)|^2 / omega with the
Debye-Waller factor; here it is Bose-weighted (n + 1 for energy loss at +omega, n for gain at -omega),
binned in energy and broadened with the instrument's energy resolution. Unlike a powder map it keeps the
direction of Q: Q . e(q, nu) selects the polarisations (no transverse intensity along a longitudinal
direction), and Q is kept outside the first Brillouin zone (Euphonic computes the phonons at the reduced q
and the phase factors exp(iQ.r) and Q . e at Q itself, so the intensity grows with |Q|^2 zone by zone).

Units at this boundary: Q Cartesian in 1/Å in the frame of the structure as given (``q_path``), energies in
meV, temperatures in K; the structure factor in mbarn per atom, the map in mbarn/meV per atom.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..io.units import CM1_PER_MEV, KELVIN_CM1

__all__ = ["ModeIntensities", "SingleCrystalMap", "mode_intensities", "single_crystal_map", "MIN_ENERGY_MEV"]

#: Modes with |omega| below this (meV) carry no intensity in a map: the acoustic modes at a Bragg point,
#: where 1/omega (and the Bose factor ~ k_B T / omega) blow up on the rounding residual the ASR leaves.
MIN_ENERGY_MEV = 0.1

#: At most this many unlabelled vertices get an (h, k, l) tick; a file of Q points bends at every point.
MAX_RLU_TICKS = 12

#: What the structure factor and the maps are in (Euphonic's per-atom normalisation).
STRUCTURE_FACTOR_UNIT = "mbarn per atom"
MAP_UNIT = "mbarn/meV per atom"


@dataclass
class ModeIntensities:
    """Each mode's one-phonon intensity at each Q.

    Attributes:
        q_cart: (n_q, 3) Q in 1/Å (Cartesian, the structure's frame), as given.
        frequencies_mev: (n_q, n_modes) phonon energies in meV; imaginary modes negative.
        structure_factor: (n_q, n_modes) Euphonic's |F(Q, nu)|^2 including 1/omega and the Debye-Waller
            factor, mbarn per atom, before any Bose factor; NaN for modes left out (see ``kept``).
        loss: (n_q, n_modes) ``structure_factor * (n + 1)``: the energy-loss intensity at +omega; 0 where left out.
        gain: (n_q, n_modes) ``structure_factor * n``: the energy-gain intensity at -omega; 0 where left out.
        kept: (n_q, n_modes) False for modes with omega < ``MIN_ENERGY_MEV`` (acoustic at Bragg points,
            imaginary modes), whose 1/omega weight is meaningless.
        temperature_k: of the Debye-Waller and Bose factors.
        dw_grid: the Monkhorst-Pack mesh of the Debye-Waller factor.
    """

    q_cart: np.ndarray
    frequencies_mev: np.ndarray
    structure_factor: np.ndarray
    loss: np.ndarray
    gain: np.ndarray
    kept: np.ndarray
    temperature_k: float
    dw_grid: tuple[int, int, int]


def _check_temperature(temperature_k) -> float:
    try:
        temperature = float(temperature_k)
    except (TypeError, ValueError):
        raise InputError("temperature", f"not a number: {temperature_k!r}") from None
    if not (np.isfinite(temperature) and temperature > 0):
        raise InputError("temperature", f"must be above 0 K (got {temperature_k})")
    return temperature


def bose_occupation(energy_mev: np.ndarray, temperature_k: float) -> np.ndarray:
    """n(E) = 1 / (exp(E / k_B T) - 1) for E > 0 in meV (k_B from the named constants of ``io.units``)."""
    x = np.asarray(energy_mev, float) * CM1_PER_MEV * KELVIN_CM1 / float(temperature_k)
    with np.errstate(divide="ignore", over="ignore"):
        return 1.0 / np.expm1(x)


def mode_intensities(fc, q_cart: np.ndarray, temperature_k: float, dw_spacing_inv_ang: float = 0.1
                     ) -> ModeIntensities:
    """Euphonic's one-phonon structure factor of every mode at each Q, and its Bose-weighted loss and gain.

    Args:
        fc: ``euphonic.ForceConstants`` (``neutron.euphonic_force_constants`` of a phonopy object).
        q_cart: (n_q, 3) Q in 1/Å, Cartesian in the frame of the force constants' cell. Q outside the first
            zone is kept as given: the structure factor depends on Q, not only on the reduced q.
        temperature_k: of the Debye-Waller and Bose factors, above 0 K.
        dw_spacing_inv_ang: largest spacing of the Monkhorst-Pack mesh of the Debye-Waller factor (1/Å),
            the same mesh as ``neutron.powder_map`` uses for its coherent part.

    Returns:
        :class:`ModeIntensities`; acoustic modes at Bragg points and imaginary modes are left out.
    """
    from euphonic import ureg

    from .neutron import _mesh_modes, quiet_euphonic

    temperature = _check_temperature(temperature_k)
    q_cart = np.asarray(q_cart, float)
    if q_cart.ndim != 2 or q_cart.shape[1] != 3 or len(q_cart) == 0:
        raise InputError("Q points", f"expected an (n, 3) array of Cartesian Q in 1/Å (got shape {q_cart.shape})")
    if not np.isfinite(q_cart).all():
        raise InputError("Q points", "not finite")
    if not (np.isfinite(dw_spacing_inv_ang) and dw_spacing_inv_ang > 0):
        raise InputError("dw_spacing_inv_ang", f"must be above 0 1/Å (got {dw_spacing_inv_ang})")
    cell_ang = fc.crystal.cell_vectors.to("angstrom").magnitude
    q_frac = q_cart @ cell_ang.T / (2.0 * np.pi)
    # reduce_qpts only shares the diagonalisation between q and q + G: Euphonic's eigenvectors are periodic
    # in the reciprocal lattice (cell-origin phases) and its structure factor takes exp(iQ.r) and Q . e at
    # the q-points as passed, so each Q keeps its own zone.
    with quiet_euphonic(), np.errstate(divide="ignore", invalid="ignore"):  # 1/omega of a mode at 0: left out
        modes = fc.calculate_qpoint_phonon_modes(q_frac, asr="reciprocal")
        dw = _mesh_modes(fc, dw_spacing_inv_ang).calculate_debye_waller(ureg.Quantity(temperature, "K"))
        structure_factor = modes.calculate_structure_factor(dw=dw).structure_factors.to("mbarn").magnitude
    grid = tuple(int(n) for n in fc.crystal.get_mp_grid_spec(ureg.Quantity(dw_spacing_inv_ang, "1/angstrom")))
    frequencies = modes.frequencies.to("meV").magnitude
    kept = (frequencies >= MIN_ENERGY_MEV) & np.isfinite(structure_factor)
    structure_factor = np.where(kept, structure_factor, np.nan)
    occupation = np.where(kept, bose_occupation(np.where(kept, frequencies, 1.0), temperature), 0.0)
    loss = np.where(kept, structure_factor * (occupation + 1.0), 0.0)
    gain = np.where(kept, structure_factor * occupation, 0.0)
    return ModeIntensities(q_cart.copy(), frequencies, structure_factor, loss, gain, kept, temperature, grid)


def _pieces(n: int, breaks) -> list[slice]:
    starts = [0, *sorted(int(b) for b in breaks if 0 < int(b) < n), n]
    return [slice(a, b) for a, b in zip(starts[:-1], starts[1:]) if b > a]


def _rlu_text(hkl: np.ndarray) -> str:
    return "(" + ",".join(f"{round(float(x), 3) + 0.0:g}" for x in hkl) + ")"


def _ticks(sqe_map) -> tuple[list[float], list[str]]:
    """Labelled vertices as ``PathSamples.ticks`` gives them, plus unlabelled vertices (ends of pieces and
    corners, where the direction of the path turns) named by their (h, k, l)."""
    from .q_path import PathSamples

    distance = np.asarray(sqe_map.distance_inv_ang, float)
    positions, names = PathSamples(sqe_map.q_cart, distance, list(sqe_map.labels), list(sqe_map.breaks)).ticks()
    q = np.asarray(sqe_map.q_cart, float)
    corners = []
    for piece in _pieces(len(q), sqe_map.breaks):
        indices = list(range(piece.start, piece.stop))
        corners += [indices[0], indices[-1]]
        steps = np.diff(q[piece], axis=0)
        for k in range(1, len(steps)):
            a, b = steps[k - 1], steps[k]
            norms = np.linalg.norm(a) * np.linalg.norm(b)
            if norms > 0 and np.dot(a, b) < (1 - 1e-6) * norms:
                corners.append(piece.start + k)
    unlabelled = sorted({k for k in corners if not sqe_map.labels[k]})
    if len(unlabelled) > MAX_RLU_TICKS:
        unlabelled = [k for k in unlabelled if k in (0, len(q) - 1)]
    for k in unlabelled:
        text = _rlu_text(sqe_map.q_rlu[k])
        near = [i for i, x in enumerate(positions) if abs(x - distance[k]) < 1e-9]
        if near:
            if text not in names[near[0]].split("|"):
                names[near[0]] = f"{names[near[0]]}|{text}"
        else:
            positions.append(float(distance[k]))
            names.append(text)
    order = np.argsort(positions, kind="stable")
    return [positions[i] for i in order], [names[i] for i in order]


def _json_ready(values: np.ndarray) -> list:
    """An array as nested lists of floats, NaN and infinities as None (JSON has no NaN)."""
    array = np.asarray(values, float)
    return np.where(np.isfinite(array), array, None).tolist()


@dataclass
class SingleCrystalMap:
    """A single-crystal S(Q, E) map along a path.

    Attributes:
        name: the structure.
        path_text: the path as the user gave it (``"GAMMA -> X -> W"``, ``"2 0 0 -> 3 0 0"``).
        q_cart: (n, 3) Q in 1/Å, Cartesian in the structure's frame.
        q_rlu: (n, 3) Q in reciprocal lattice units of the conventional cell.
        distance_inv_ang: (n,) distance along the path in 1/Å (no jump at a break).
        labels: (n,) vertex labels, ``""`` elsewhere.
        breaks: indices i where a new piece of the path starts.
        energy_mev: (n_e,) uniform energy-transfer bin centres in meV (negative: neutron energy gain).
        intensity: (n, n_e) S(Q, E) in mbarn/meV per atom, resolution applied.
        frequencies_mev: (n, n_modes) the dispersion along the path; imaginary modes negative.
        temperature_k: of the Debye-Waller and Bose factors.
        details: resolution, Debye-Waller mesh, modes left out, weight outside the window, units; JSON-ready.
    """

    name: str
    path_text: str
    q_cart: np.ndarray
    q_rlu: np.ndarray
    distance_inv_ang: np.ndarray
    labels: list[str]
    breaks: list[int]
    energy_mev: np.ndarray
    intensity: np.ndarray
    frequencies_mev: np.ndarray
    temperature_k: float
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready record (NaN -> None)."""
        return {"name": self.name, "path_text": self.path_text, "q_cart": _json_ready(self.q_cart),
                "q_rlu": _json_ready(self.q_rlu), "distance_inv_ang": _json_ready(self.distance_inv_ang),
                "labels": list(self.labels), "breaks": [int(b) for b in self.breaks],
                "energy_mev": _json_ready(self.energy_mev), "intensity": _json_ready(self.intensity),
                "frequencies_mev": _json_ready(self.frequencies_mev), "temperature_k": float(self.temperature_k),
                "details": self.details}

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Arrays for ``np.savez`` that load without pickle: numbers, strings as unicode arrays, ``details``
        as a JSON string."""
        return {"q_cart": np.asarray(self.q_cart, float), "q_rlu": np.asarray(self.q_rlu, float),
                "distance_inv_ang": np.asarray(self.distance_inv_ang, float),
                "labels": np.array([str(label) for label in self.labels], dtype=str),
                "breaks": np.asarray(self.breaks, dtype=np.int64), "energy_mev": np.asarray(self.energy_mev, float),
                "intensity": np.asarray(self.intensity, float),
                "frequencies_mev": np.asarray(self.frequencies_mev, float),
                "temperature_k": np.asarray(float(self.temperature_k)), "name": np.array(str(self.name)),
                "path_text": np.array(str(self.path_text)), "details": np.array(json.dumps(self.details))}

    def resolution_text(self) -> str:
        """The energy resolution in words: ``1 meV FWHM``, a polynomial or instrument, or ``none (native)``."""
        resolution = self.details.get("resolution_fwhm_mev")
        if resolution is None:
            return "none (native)"
        if isinstance(resolution, (int, float)):
            return f"{resolution:g} meV FWHM"
        if isinstance(resolution, list):
            terms = [f"{c:g} E^{i}" if i else f"{c:g}" for i, c in enumerate(resolution)]
            return f"FWHM(E) = {' + '.join(terms)} meV"
        return str(resolution)

    def pieces(self) -> list[slice]:
        """The continuous pieces of the path, as slices of the Q points."""
        return _pieces(len(self.q_cart), self.breaks)

    def ticks(self) -> tuple[list[float], list[str]]:
        """Tick positions and names along the path: seekpath's labels, and the unlabelled ends and corners of
        its pieces by their (h, k, l)."""
        return _ticks(self)

    def summary_line(self) -> str:
        """One line: what was computed and what was applied."""
        return (f"{self.name}: single-crystal S(Q,E) along {self.path_text or 'the path'}, {len(self.q_cart)} Q "
                f"points, E {float(self.energy_mev[0]):g} .. {float(self.energy_mev[-1]):g} meV, resolution "
                f"{self.resolution_text()}, T {self.temperature_k:g} K")


def _energy_grid(energy_mev) -> tuple[np.ndarray, float]:
    """Checked uniform, increasing energy bin centres and their step (the resolution convolves on it)."""
    try:
        energy = np.asarray(energy_mev, float)
    except (TypeError, ValueError):
        raise InputError("energy", "not a list of numbers") from None
    if energy.ndim != 1 or len(energy) < 2 or not np.isfinite(energy).all():
        raise InputError("energy", "needs at least two finite energies")
    steps = np.diff(energy)
    step = float(np.mean(steps))
    if step <= 0 or np.max(np.abs(steps - step)) > 1e-6 * max(step, 1e-12) + 1e-9:
        raise InputError("energy", "energies must be uniformly spaced and increasing")
    return energy, step


def _bin_modes(frequencies_mev: np.ndarray, loss: np.ndarray, gain: np.ndarray, energy_mev: np.ndarray,
               step_mev: float) -> np.ndarray:
    """(n_q, n_e) per-mode weights in the energy bins centred on ``energy_mev``: loss at +omega, gain at
    -omega, divided by the bin width (weight beyond the window is dropped)."""
    n_q, n_e = len(frequencies_mev), len(energy_mev)
    start = energy_mev[0] - 0.5 * step_mev
    rows = np.broadcast_to(np.arange(n_q)[:, None], frequencies_mev.shape)
    spectrum = np.zeros((n_q, n_e))
    for sign, weight in ((1.0, loss), (-1.0, gain)):
        index = np.floor((sign * frequencies_mev - start) / step_mev).astype(int)
        inside = (index >= 0) & (index < n_e) & (weight != 0)
        np.add.at(spectrum, (rows[inside], index[inside]), weight[inside])
    return spectrum / step_mev


def _resolution_record(described):
    """``neutron._describe``'s value as JSON: a number, a list of polynomial coefficients, text or None."""
    if described is None or isinstance(described, str):
        return described
    if np.ndim(described) == 0:
        return float(described)
    return [float(c) for c in described]


def _check_frame(fc, frame) -> None:
    """The path's conventional cell must be a supercell of the force constants' cell, in the same frame:
    otherwise the path was made for another structure (or a rotated copy) and Q would point elsewhere."""
    cell_ang = fc.crystal.cell_vectors.to("angstrom").magnitude
    multiples = np.asarray(frame.conventional_lattice, float) @ np.linalg.inv(cell_ang)
    if np.max(np.abs(multiples - np.rint(multiples))) > 1e-3:
        raise InputError("q path", "its frame does not belong to this structure (the conventional cell is not "
                                   "a supercell of the force constants' cell in the same orientation)")


def single_crystal_map(phonon, samples, frame, energy_mev, temperature_k: float = 300.0, resolution=None,
                       name: str = "structure", path_text: str = "", dw_spacing_inv_ang: float = 0.1
                       ) -> SingleCrystalMap:
    """The coherent one-phonon S(Q, E) at the points of a path (:func:`equispec.physics.q_path.sample_path`).

    Args:
        phonon: a ``phonopy.Phonopy`` holding force constants (or a ``euphonic.ForceConstants``).
        samples: ``PathSamples`` of ``path_frame(structure)`` of the same structure.
        frame: that ``PathFrame`` (for r.l.u.).
        energy_mev: (n_e,) uniform energy-transfer bin centres in meV; negative ones collect energy gain.
        temperature_k: of the Debye-Waller and Bose factors.
        resolution: Gaussian energy FWHM in meV: None (native: bins only), a number, polynomial
            coefficients in E, or a callable such as ``neutron.instrument_resolution(name, ei_mev)``.
        name, path_text: carried into the map for titles and records.
        dw_spacing_inv_ang: mesh spacing of the Debye-Waller factor (1/Å).

    Returns:
        :class:`SingleCrystalMap` in mbarn/meV per atom; modes below ``MIN_ENERGY_MEV`` are left out.
    """
    from .neutron import _describe, broaden_map, euphonic_force_constants, quiet_euphonic

    if isinstance(resolution, str):
        raise InputError(resolution, "a named instrument's resolution needs its incident energy: pass "
                                     "neutron.instrument_resolution(name, ei_mev)")
    energy, step = _energy_grid(energy_mev)
    temperature = _check_temperature(temperature_k)
    q_cart = np.asarray(samples.q_cart, float)
    with quiet_euphonic():
        fc = phonon if hasattr(phonon, "calculate_qpoint_phonon_modes") else euphonic_force_constants(phonon)
        _check_frame(fc, frame)
        modes = mode_intensities(fc, q_cart, temperature, dw_spacing_inv_ang)
    native = _bin_modes(modes.frequencies_mev, modes.loss, modes.gain, energy, step)
    intensity = broaden_map(energy, native, resolution) if resolution is not None else native
    total = float(np.sum(modes.loss) + np.sum(modes.gain))
    imaginary = int(np.sum(modes.frequencies_mev < -MIN_ENERGY_MEV))
    details = {
        "method": "Euphonic coherent one-phonon structure factor (Sears 1992 scattering lengths), Bose factor "
                  "n + 1 at +E (loss) and n at -E (gain), binned in energy",
        "resolution_fwhm_mev": _resolution_record(_describe(resolution)),
        "dw_spacing_inv_ang": float(dw_spacing_inv_ang), "dw_grid": list(modes.dw_grid), "asr": "reciprocal",
        "energy_step_mev": step,
        "left_out": {"min_energy_mev": MIN_ENERGY_MEV, "n_modes": int(np.sum(~modes.kept)),
                     "imaginary_modes": imaginary,
                     "why": "modes with omega below min_energy_mev (acoustic at Bragg points, where 1/omega and the "
                            "Bose factor diverge on a rounding residual) and imaginary modes carry no intensity"},
        "outside_window_share": (1.0 - float(np.sum(native)) * step / total) if total > 0 else 0.0,
        "units": {"intensity": MAP_UNIT, "energy": "meV", "q": "1/Å (Cartesian) and r.l.u. of the conventional cell",
                  "distance": "1/Å"},
    }
    return SingleCrystalMap(str(name), str(path_text), q_cart, frame.to_rlu(q_cart),
                            np.asarray(samples.distance, float), list(samples.labels), [int(b) for b in samples.breaks],
                            energy, intensity, modes.frequencies_mev, temperature, details)
