"""XAS processing: E0, pre/post-edge normalisation, broadening and a rigid energy shift.

The conventions follow common XAFS practice (as in Athena/Larch, reimplemented here): E0 is the maximum
of dmu/dE; a line fitted to the pre-edge region and a quadratic fitted to the post-edge region are both
evaluated at E0, and their difference is the edge step, so that the normalised spectrum rises from 0 to 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..errors import InputError

__all__ = ["find_e0", "normalize_xas", "Normalized", "lorentzian_broaden", "gaussian_broaden", "core_hole_fwhm_ev",
           "uniform_grid", "FWHM_PER_SIGMA"]

#: Full width at half maximum of a Gaussian in units of its standard deviation, 2 sqrt(2 ln 2).
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def find_e0(energy_ev: np.ndarray, mu: np.ndarray, smooth_ev: float = 0.5) -> float:
    """Edge energy E0 (eV): where dmu/dE is largest, after a light Gaussian smoothing.

    Args:
        energy_ev: (n,) increasing energies.
        mu: (n,) absorption.
        smooth_ev: standard deviation of the smoothing (eV) that keeps one noisy point from winning.
    """
    grid, values = uniform_grid(energy_ev, mu, step_ev=min(0.1, float(np.median(np.diff(energy_ev)))))
    step = grid[1] - grid[0]
    derivative = np.gradient(gaussian_filter1d(values, max(smooth_ev / step, 0.5)), grid)
    margin = max(2, len(grid) // 50)  # the ends of a smoothed derivative are unreliable
    return float(grid[margin + int(np.argmax(derivative[margin:-margin]))])


@dataclass
class Normalized:
    """A spectrum normalised to unit edge step.

    Attributes:
        energy_ev: (n,) energies.
        mu: (n,) normalised absorption (0 before the edge, about 1 after it).
        e0_ev: edge energy.
        edge_step: post-edge minus pre-edge curve at E0, in the input's unit.
        pre_edge_fitted, post_edge_fitted: whether each region had enough points to fit a curve.
    """

    energy_ev: np.ndarray
    mu: np.ndarray
    e0_ev: float
    edge_step: float
    pre_edge_fitted: bool
    post_edge_fitted: bool


def normalize_xas(energy_ev, mu, e0_ev: float | None = None, pre_ev: tuple[float, float] | None = None,
                  post_ev: tuple[float, float] | None = None, name: str = "spectrum") -> Normalized:
    """Pre-/post-edge normalisation to unit edge step.

    Args:
        energy_ev, mu: (n,) spectrum.
        e0_ev: edge energy; ``None`` finds it with :func:`find_e0`.
        pre_ev: pre-edge fit range relative to E0 (eV). ``None``: from the first point (at most 200 eV
            below E0) to half way to E0 (as Larch chooses by default) but no closer than 30 eV. With fewer than 3 points in it
            (XANES-only data) the first value is used as a constant background.
        post_ev: post-edge fit range relative to E0 (eV). ``None``: 25 eV above E0 to the end. A quadratic
            when the range spans more than 50 eV, else a line; with fewer than 5 points, or a scan that
            ends within 15 eV of E0, the mean of the last 10 % of the spectrum is the post-edge level.
        name: names the spectrum in errors.

    Returns:
        :class:`Normalized`. Raises ``InputError`` when there is no edge step (a flat or falling spectrum).
    """
    energy_ev, mu = np.asarray(energy_ev, float), np.asarray(mu, float)
    e0 = find_e0(energy_ev, mu) if e0_ev is None else float(e0_ev)
    rel = energy_ev - e0
    if pre_ev is None:
        start = max(float(rel[0]), -200.0)
        pre_ev = (start, min(start / 2.0, -30.0))  # stay clear of pre-edge peaks
    if post_ev is None:
        post_ev = (25.0, float(rel[-1]))
    pre = (rel >= pre_ev[0]) & (rel <= pre_ev[1])
    if pre.sum() >= 3:
        pre_coef = np.polyfit(rel[pre], mu[pre], 1)
        pre_fitted = True
    else:
        pre_coef = np.array([0.0, mu[0]])
        pre_fitted = False
    post = (rel >= post_ev[0]) & (rel <= post_ev[1])
    if post.sum() >= 5 and rel[-1] > 15.0:
        span = float(rel[post][-1] - rel[post][0])
        post_coef = np.polyfit(rel[post], mu[post], 2 if span > 50.0 else 1)
        post_fitted = True
    else:
        post_coef = np.array([float(np.mean(mu[-max(2, len(mu) // 10):]))])
        post_fitted = False
    step = float(np.polyval(post_coef, 0.0) - np.polyval(pre_coef, 0.0))
    if not np.isfinite(step) or step <= 0:
        raise InputError(name, "no absorption edge found (the post-edge level is not above the pre-edge)")
    normalized = (mu - np.polyval(pre_coef, rel)) / step
    return Normalized(energy_ev, normalized, e0, step, pre_fitted, post_fitted)


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


def core_hole_fwhm_ev(element: str, edge: str = "K") -> float:
    """Tabulated core-hole lifetime width (FWHM, eV) from xraydb (Keski-Rahkonen & Krause)."""
    import xraydb

    try:
        return float(xraydb.core_width(element, edge))
    except Exception as exc:  # xraydb raises plain errors for unknown elements/edges
        raise InputError(f"{element} {edge}", f"no tabulated core-hole width ({exc})") from None
