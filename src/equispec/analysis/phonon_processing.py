"""Phonon DOS processing for inelastic neutron scattering: neutron weighting and instrument resolution.

A powder INS measurement in the incoherent approximation sees the "neutron-weighted" DOS
``sum_el (sigma_el / M_el) g_el(E)``, where ``g_el`` is the partial DOS of element ``el``,
``sigma_el`` its total bound scattering cross section and ``M_el`` its mass. The cross sections and
masses come from ``periodictable`` (Sears 1992 neutron data).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import InputError
from .xas_processing import gaussian_broaden

__all__ = ["neutron_weights", "neutron_weighted_dos", "resolution_fwhm", "broaden_dos"]


def neutron_weights(elements) -> dict[str, float]:
    """Per-element INS weights ``sigma_scatt / M`` in barn per atomic mass unit.

    Args:
        elements: element symbols.

    Returns:
        ``{symbol: total bound scattering cross section (barn) / atomic mass (u)}``.
    """
    import periodictable

    weights = {}
    for symbol in elements:
        element = getattr(periodictable, str(symbol), None)
        sigma = getattr(getattr(element, "neutron", None), "total", None)
        if element is None or sigma is None or not np.isfinite(sigma):
            raise InputError(str(symbol), "no tabulated neutron scattering cross section")
        weights[str(symbol)] = float(sigma) / float(element.mass)
    return weights


def neutron_weighted_dos(partial_dos: Mapping[str, np.ndarray]) -> np.ndarray:
    """The neutron-weighted DOS ``sum_el (sigma_el / M_el) partial_dos[el]``.

    Args:
        partial_dos: element symbol -> (n,) partial DOS of all atoms of that element (they add up to the
            total DOS, as ``PhononDosPrediction.partial_dos`` does).

    Returns:
        (n,) weighted DOS, in the partial DOS's unit times barn/u (normalise it before comparing).
    """
    if not partial_dos:
        raise InputError(None, "neutron weighting needs per-element partial DOS")
    weights = neutron_weights(partial_dos)
    return sum(weights[el] * np.asarray(dos, float) for el, dos in partial_dos.items())


def resolution_fwhm(resolution):
    """Turn a resolution setting into a FWHM (a number, or a function of energy, in the grid's unit).

    Args:
        resolution: ``None`` or 0 (no broadening), a number (constant FWHM), a sequence of polynomial
            coefficients ``(c0, c1, c2, ...)`` giving ``FWHM(E) = c0 + c1 E + c2 E^2 + ...``, or a callable.
    """
    if resolution is None:
        return 0.0
    if callable(resolution):
        return resolution
    if np.ndim(resolution) == 0:
        value = float(resolution)
        if value < 0:
            raise InputError("resolution", "FWHM must not be negative")
        return value
    coefficients = [float(c) for c in resolution]
    return lambda energy: np.maximum(sum(c * np.asarray(energy) ** i for i, c in enumerate(coefficients)), 0.0)


def broaden_dos(energy: np.ndarray, dos: np.ndarray, resolution, step: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian instrument broadening of a DOS on a fine uniform grid (area kept).

    Args:
        energy: (n,) increasing energies (meV).
        dos: (n,) density.
        resolution: see :func:`resolution_fwhm`.
        step: grid step of the fine grid; default a fifth of the input's smallest spacing.

    Returns:
        (grid, broadened) on a uniform grid from ``energy[0]`` to ``energy[-1]``.
    """
    energy, dos = np.asarray(energy, float), np.asarray(dos, float)
    step = step or float(np.min(np.diff(energy))) / 5.0
    n = int(round((energy[-1] - energy[0]) / step)) + 1
    grid = np.linspace(energy[0], energy[-1], n)
    fine = np.interp(grid, energy, dos)
    fwhm = resolution_fwhm(resolution)
    if not callable(fwhm) and fwhm == 0:
        return grid, fine
    # pad with zeros on both sides: a DOS vanishes outside its range
    pad = int(np.ceil(3 * (fwhm if not callable(fwhm) else float(np.max(fwhm(grid)))) / step)) + 1
    wide = np.concatenate([grid[0] - step * np.arange(pad, 0, -1), grid, grid[-1] + step * np.arange(1, pad + 1)])
    padded = np.concatenate([np.zeros(pad), fine, np.zeros(pad)])
    broadened = gaussian_broaden(wide, padded, fwhm)
    return grid, broadened[pad:-pad]
