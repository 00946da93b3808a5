"""The inelastic-neutron-scattering result of one phonon prediction and the orchestration that makes it:
neutron-weighted DOS, powder map, resolution and kinematic mask (:func:`ins_spectra`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .euphonic_engine import euphonic_force_constants, euphonic_neutron_dos, quiet_euphonic
from .kinematics import (DEFAULT_ANGLES_DEG, _describe, broaden_map, energy_resolution, kinematic_limits,
                         kinematic_mask, map_energies)
from .powder import PowderMap, powder_map
from .weights import _unit_area, ins_dos


@dataclass
class InsSpectra:
    """What an inelastic-neutron-scattering experiment on a powder would see of one prediction.

    Attributes:
        name: the prediction.
        energy_mev: (n,) energies of the DOS in meV.
        dos: (n,) phonon DOS, states per meV per cell (physics modes) or max-normalised (fast mode).
        neutron_dos: (n,) neutron-weighted DOS normalised to unit area, with the resolution applied.
        powder: the powder S(|Q|, E) map (kinematic mask and resolution applied), or None (fast mode).
        ei_mev, temperature_k: the experiment; ``ei_mev`` None means no kinematic limit.
        details: resolution and method, JSON-ready.
    """

    name: str
    energy_mev: np.ndarray
    dos: np.ndarray
    neutron_dos: np.ndarray
    powder: PowderMap | None
    ei_mev: float | None
    temperature_k: float
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        record = {"name": self.name, "energy_mev": self.energy_mev.tolist(), "dos": self.dos.tolist(),
                  "neutron_dos": self.neutron_dos.tolist(), "ei_mev": self.ei_mev,
                  "temperature_k": self.temperature_k, "details": self.details}
        if self.powder is not None:
            record["sqe"] = {"q_inv_ang": self.powder.q_inv_ang.tolist(), "energy_mev": self.powder.energy_mev.tolist(),
                             "intensity": [[None if not np.isfinite(v) else float(v) for v in row]
                                           for row in self.powder.intensity],
                             "q_integrated": self.powder.q_integrated().tolist(),
                             "phonon_order": self.powder.phonon_order,
                             "term_shares": self.powder.details.get("term_shares"),
                             "details": self.powder.details}
        return record

    def summary_line(self) -> str:
        """What was applied, in one line: resolution, Ei, temperature and, with a map, its phonon terms."""
        resolution = self.details.get("resolution_fwhm_mev")
        line = (f"{self.name}: neutron spectra at resolution {resolution if resolution is not None else 'none (native)'}"
                f", kinematic range of Ei {f'{self.ei_mev:g} meV' if self.ei_mev is not None else 'none (no mask)'}, "
                f"T {self.temperature_k:g} K")
        if self.powder is not None:
            shares = ", ".join(f"{x:.3f}" for x in self.powder.details.get("term_shares", [1.0]))
            line += f"; S(Q,E) {self.powder.phonon_order}-phonon (term shares {shares})"
        return line

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {"energy_mev": self.energy_mev, "dos": self.dos, "neutron_dos": self.neutron_dos}
        if self.powder is not None:
            arrays.update({f"sqe_{k}" if k != "sqe" else "sqe": v for k, v in self.powder.to_arrays().items()})
        return arrays


def ins_spectra(prediction, ei_mev: float | None = None, temperature_k: float = 300.0, resolution=None,
                angles_deg=DEFAULT_ANGLES_DEG, q_step_inv_ang: float = 0.1, energy_step_mev: float = 0.25,
                npts: int = 200, phonon_order="auto", progress: bool = False) -> InsSpectra:
    """Neutron-weighted DOS and, with force constants, the powder S(|Q|, E) of a phonon prediction.

    Args:
        prediction: a ``PhononDosPrediction``. With ``force_constants`` (physics/hybrid modes) everything
            comes from Euphonic on the full energy range; without (fast mode) the neutron-weighted DOS is
            ``sum_el sigma_el / M_el g_el`` of the network's partial DOS on its 51-bin grid.
        ei_mev: incident energy of a direct-geometry spectrometer: the map covers -Ei/2 .. 0.95 Ei and is
            NaN outside the detector's kinematic range ``angles_deg``. None: 0 .. 1.05 x the highest mode,
            |Q| up to 12 1/Å, no mask. The DOS has ``energy_step_mev`` steps; the map at most
            ``MAP_ENERGY_BINS`` energies and ``q_step_inv_ang`` steps in |Q|.
        temperature_k: Debye-Waller and Bose factors.
        resolution: Gaussian energy FWHM in meV (number, polynomial coefficients, callable) or an
            instrument name known to ``resins`` (needs ``ei_mev``); None: native resolution.
        phonon_order: the map's n-phonon terms, ``auto`` or the highest n (1: one-phonon only).
    """
    resolution = energy_resolution(resolution, ei_mev)
    details = {"resolution_fwhm_mev": _describe(resolution), "angles_deg": list(angles_deg)}
    if prediction.force_constants is None:
        from ...io.units import CM1_PER_MEV

        energy = np.asarray(prediction.freq_cm1, float) / CM1_PER_MEV
        neutron_dos = ins_dos(energy, prediction.dos, resolution, partial_dos=prediction.partial_dos).values
        details["method"] = "network partial DOS x sigma/M (incoherent approximation), 51-bin label grid"
        return InsSpectra(prediction.name, energy, np.asarray(prediction.dos, float), neutron_dos, None, ei_mev,
                          float(temperature_k), details)

    with quiet_euphonic():
        fc = euphonic_force_constants(prediction.force_constants)
        full = prediction.full_range
        top = float(full.energy_mev[-1])
        edges = np.arange(0.0, top + energy_step_mev, energy_step_mev)
        centres = 0.5 * (edges[1:] + edges[:-1])
        dos = np.interp(centres, full.energy_mev, full.dos)
        weighted = euphonic_neutron_dos(fc, edges)
        if resolution is not None:
            weighted = broaden_map(centres, weighted[None, :], resolution)[0]
        energy_map = map_energies(ei_mev, top, step_mev=energy_step_mev)
        q_top = float(np.nanmax(kinematic_limits(energy_map, ei_mev, angles_deg)[1])) if ei_mev is not None else 12.0
        q = np.arange(0.5 * q_step_inv_ang, q_top, q_step_inv_ang)
        powder = powder_map(fc, q, energy_map, temperature_k, npts=npts, phonon_order=phonon_order,
                            progress=progress)
    if resolution is not None:
        powder.intensity = broaden_map(powder.energy_mev, powder.intensity, resolution)
        powder.one_phonon = broaden_map(powder.energy_mev, powder.one_phonon, resolution)
    if ei_mev is not None:
        mask = kinematic_mask(q, energy_map, ei_mev, angles_deg)
        powder.intensity = np.where(mask, powder.intensity, np.nan)
        powder.one_phonon = np.where(mask, powder.one_phonon, np.nan)
        powder.details["ei_mev"] = ei_mev
        powder.details.update(powder.order_details(mask))  # the shares of what the spectrometer sees
    details["method"] = "Euphonic from the force constants (coherent + incoherent cross-sections, Sears 1992)"
    return InsSpectra(prediction.name, centres, dos, _unit_area(centres, weighted)[0], powder, ei_mev,
                      float(temperature_k), details)
