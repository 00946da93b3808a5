"""XAS processing: E0, pre/post-edge normalisation, broadening and a rigid energy shift.

The conventions follow common XAFS practice (as in Athena/Larch, reimplemented here): E0 is the maximum
of dmu/dE; a line fitted to the pre-edge region and a quadratic fitted to the post-edge region are both
evaluated at E0, and their difference is the edge step, so that the normalised spectrum rises from 0 to 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..broadening import uniform_grid
from ..errors import InputError

__all__ = ["find_e0", "normalize_xas", "Normalized", "core_hole_fwhm_ev"]


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


def core_hole_fwhm_ev(element: str, edge: str = "K") -> float:
    """Tabulated core-hole lifetime width (FWHM, eV) from xraydb (Keski-Rahkonen & Krause)."""
    import xraydb

    try:
        return float(xraydb.core_width(element, edge))
    except Exception as exc:  # xraydb raises plain errors for unknown elements/edges
        raise InputError(f"{element} {edge}", f"no tabulated core-hole width ({exc})") from None
