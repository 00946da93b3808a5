"""What a direct-geometry spectrometer sees: the kinematic range of (|Q|, E) its detectors reach, the energy
range of a predicted map, and its energy resolution (named instruments through ``resins``, else a Gaussian
FWHM constant or polynomial in E), applied to maps."""

from __future__ import annotations

import numpy as np

from ...errors import InputError, ModelError

#: E = NEUTRON_MEV_ANG2 * k^2 for a neutron: hbar^2 / (2 m_n) in meV Å^2 (CODATA 2018).
NEUTRON_MEV_ANG2 = 2.0721247

#: Scattering angles (degrees) of common direct-geometry spectrometers' detector banks.
DEFAULT_ANGLES_DEG = (3.0, 135.0)


def kinematic_limits(energy_mev: np.ndarray, ei_mev: float, angles_deg=DEFAULT_ANGLES_DEG
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(|Q|_min, |Q|_max) in 1/Å reachable at energy transfer E on a direct-geometry spectrometer.

    With k_i = sqrt(Ei / c) and k_f = sqrt((Ei - E) / c), c = hbar^2 / 2m_n:
    Q^2 = k_i^2 + k_f^2 - 2 k_i k_f cos(2 theta) over the detector's scattering angles 2 theta.
    Energies above Ei are unreachable (NaN limits).
    """
    energy = np.asarray(energy_mev, float)
    if not ei_mev > 0:
        raise InputError("--ei", f"incident energy must be above 0 meV (got {ei_mev})")
    low, high = (np.radians(float(a)) for a in angles_deg)
    if not 0 <= low < high <= np.pi:
        raise InputError("angles", f"need 0 <= min < max <= 180 degrees (got {angles_deg})")
    ki = np.sqrt(ei_mev / NEUTRON_MEV_ANG2)
    with np.errstate(invalid="ignore"):
        kf = np.sqrt((ei_mev - energy) / NEUTRON_MEV_ANG2)
        q = lambda angle: np.sqrt(ki**2 + kf**2 - 2 * ki * kf * np.cos(angle))
        return q(low), q(high)


def kinematic_mask(q_inv_ang: np.ndarray, energy_mev: np.ndarray, ei_mev: float, angles_deg=DEFAULT_ANGLES_DEG
                   ) -> np.ndarray:
    """(n_q, n_e) True where the spectrometer measures (|Q|, E)."""
    q_min, q_max = kinematic_limits(energy_mev, ei_mev, angles_deg)
    q = np.asarray(q_inv_ang, float)[:, None]
    with np.errstate(invalid="ignore"):
        return (q >= q_min[None, :]) & (q <= q_max[None, :])


def instrument_resolution(name: str, ei_mev: float, **settings):
    """Energy-resolution FWHM(E) in meV of a named spectrometer at incident energy ``ei_mev``, from
    ``resins`` (its default model and configuration unless ``settings`` choose, e.g. ``chopper_frequency``).

    Returns:
        A callable ``fwhm(energy_mev) -> ndarray``.
    """
    try:
        from resins import Instrument
    except ImportError:
        raise ModelError("resins", "named instruments need resins: pip install 'equispec[neutron]'") from None
    known = Instrument.available_instruments()
    match = {k.lower(): k for k in known}.get(str(name).lower())
    if match is None:
        raise InputError(str(name), f"unknown instrument (known: {', '.join(known)})")
    try:
        model = Instrument.from_default(match).get_resolution_function(e_init=float(ei_mev), **settings)
    except Exception as exc:  # resins raises its own types for out-of-range settings
        raise InputError(str(name), f"resolution model refused the settings: {exc}") from None
    fwhm_per_sigma = 2.0 * np.sqrt(2.0 * np.log(2.0))

    def fwhm(energy_mev):
        energy = np.atleast_1d(np.asarray(energy_mev, float))
        inside = np.clip(energy, 0.0, 0.95 * ei_mev)  # the models are fits over 0 <= E < Ei
        return fwhm_per_sigma * np.asarray(model.get_characteristics(inside[:, None])["sigma"], float)

    fwhm.description = f"{match} ({type(model).__name__}), Ei = {ei_mev:g} meV"
    return fwhm


def broaden_map(energy_mev: np.ndarray, intensity: np.ndarray, resolution) -> np.ndarray:
    """Gaussian energy resolution applied to each |Q| row of a map (area of each row kept).

    Args:
        energy_mev: (n_e,) uniform energies.
        intensity: (n_q, n_e) map.
        resolution: as ``equispec.broadening.resolution_fwhm`` (number, polynomial, callable).
    """
    from ...broadening import gaussian_broaden, resolution_fwhm

    fwhm = resolution_fwhm(resolution)
    if not callable(fwhm) and fwhm == 0:
        return np.asarray(intensity, float).copy()
    if callable(fwhm):  # resolution is set by |E|: the same instrument width on both sides of the elastic line
        width = fwhm
        fwhm = lambda e: width(np.abs(e))
    return gaussian_broaden(energy_mev, np.asarray(intensity, float), fwhm)


def energy_resolution(resolution, ei_mev: float | None = None, *, source: str | None = None,
                      needs: str = "the incident energy (--ei)", defer: bool = False):
    """The energy resolution a setting asks for, as the broadening functions take it: an instrument name
    (``"ARCS"``) resolved through ``resins`` at ``ei_mev`` (:func:`instrument_resolution`); anything else (a
    FWHM in meV, polynomial coefficients, a callable, None) as it is.

    Args:
        resolution: instrument name or FWHM setting.
        ei_mev: incident energy in meV; a name without it is an ``InputError`` from ``source`` (default the
            name) saying that the resolution needs ``needs``.
        defer: a name without ``ei_mev`` comes back unresolved instead, for a caller that learns Ei later
            (from a measured file).
    """
    if not isinstance(resolution, str):
        return resolution
    if ei_mev is None:
        if defer:
            return resolution
        raise InputError(resolution if source is None else source, f"a named instrument's resolution needs {needs}")
    return instrument_resolution(resolution, ei_mev)


def _describe(resolution) -> object:
    """A resolution as outputs record it: a callable's ``description``, else the setting itself."""
    if resolution is None:
        return None
    return getattr(resolution, "description", "callable") if callable(resolution) else resolution


#: Most energy bins of a predicted map (its step grows beyond 0.25 meV for wide ranges).
MAP_ENERGY_BINS = 500


def map_energies(ei_mev: float | None, top_mev: float, gain_side: bool = False, step_mev: float = 0.25) -> np.ndarray:
    """Energy-transfer bin centres of a predicted map: with ``ei_mev``, what a direct-geometry spectrometer
    at that incident energy covers, -Ei/2 .. 0.95 Ei; without, the whole band up to ``top_mev`` (from
    -``top_mev`` with ``gain_side``, else from 0). Steps of ``step_mev``, wider where more than
    ``MAP_ENERGY_BINS`` would be needed."""
    low, high = (-0.5 * ei_mev, 0.95 * ei_mev) if ei_mev is not None else (-top_mev if gain_side else 0.0, top_mev)
    return np.arange(low, high, max(step_mev, (high - low) / MAP_ENERGY_BINS))
