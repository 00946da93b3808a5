"""Broadening of spectra on a grid: instrument resolution (Gaussian, constant or energy-dependent) and the
core-hole lifetime (Lorentzian). Shared by the neutron observables (``physics``) and the comparisons with
measurements (``analysis``), so it sits below both."""

from __future__ import annotations

import numpy as np

from .errors import InputError

__all__ = ["FWHM_PER_SIGMA", "broaden_dos", "gaussian_broaden", "lorentzian_broaden", "resolution_fwhm",
           "uniform_grid"]

#: Full width at half maximum of a Gaussian in units of its standard deviation, 2 sqrt(2 ln 2).
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def uniform_grid(energy_ev, values, step_ev: float) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of a spectrum onto a uniform grid spanning the same range."""
    energy_ev = np.asarray(energy_ev, float)
    n = max(int(round((energy_ev[-1] - energy_ev[0]) / step_ev)) + 1, 2)
    grid = np.linspace(energy_ev[0], energy_ev[-1], n)
    return grid, np.interp(grid, energy_ev, values)


def _convolve(grid: np.ndarray, values: np.ndarray, kernel_of_offset, half_width: float) -> np.ndarray:
    """Convolve values on a uniform grid with a kernel normalised to unit sum on that grid.

    The ends are padded with the end values (an absorption edge continues flat beyond the data), and the
    kernel is normalised on the grid, so the integral of a spectrum that vanishes near the ends is kept.
    """
    step = grid[1] - grid[0]
    n_half = int(np.ceil(half_width / step))
    offsets = np.arange(-n_half, n_half + 1) * step
    kernel = kernel_of_offset(offsets)
    kernel = kernel / kernel.sum()
    padded = np.concatenate([np.full(n_half, values[0]), values, np.full(n_half, values[-1])])
    return np.convolve(padded, kernel, mode="valid")


def lorentzian_broaden(grid: np.ndarray, values: np.ndarray, fwhm_ev: float) -> np.ndarray:
    """Convolve with a Lorentzian of full width ``fwhm_ev`` (the core-hole lifetime); uniform ``grid``.

    The kernel is cut at 50 FWHM (it keeps 99.4 % of a Lorentzian's weight) and renormalised.
    """
    if fwhm_ev <= 0:
        return np.asarray(values, float).copy()
    gamma = fwhm_ev / 2.0
    return _convolve(grid, np.asarray(values, float), lambda x: gamma / (x**2 + gamma**2), 50.0 * fwhm_ev)


def gaussian_broaden(grid: np.ndarray, values: np.ndarray, fwhm) -> np.ndarray:
    """Convolve with a Gaussian of full width ``fwhm`` (in the grid's unit) on a uniform ``grid``.

    Args:
        grid: (n,) uniform grid.
        values: (n,) spectrum, or (m, n) spectra broadened alike (each row on ``grid``).
        fwhm: a number, or a callable giving the FWHM at each energy of the grid (energy-dependent
            instrument resolution). Each input bin spreads its weight with the width at its own energy
            and the weights sum to one, so the area is kept (up to what falls off the ends).
    """
    grid, values = np.asarray(grid, float), np.asarray(values, float)
    if not callable(fwhm):
        if fwhm <= 0:
            return values.copy()
        sigma = fwhm / FWHM_PER_SIGMA
        kernel = lambda x: np.exp(-0.5 * (x / sigma) ** 2)
        if values.ndim == 1:
            return _convolve(grid, values, kernel, 5.0 * sigma)
        return np.stack([_convolve(grid, row, kernel, 5.0 * sigma) for row in values])
    sigma = np.maximum(np.asarray(fwhm(grid), float) / FWHM_PER_SIGMA, 1e-12)
    step = grid[1] - grid[0]
    offsets = grid[:, None] - grid[None, :]  # [output, input]
    weights = np.exp(-0.5 * (offsets / sigma[None, :]) ** 2)
    too_narrow = sigma < 0.3 * step  # narrower than a bin: keep the bin as it is
    weights[:, too_narrow] = np.eye(len(grid))[:, too_narrow]
    weights /= weights.sum(axis=0, keepdims=True)
    return values @ weights.T


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
