"""A fitted stiffness factor s on predicted phonon energies (``--fit-energy-scale``).

Universal potentials are too soft: their phonon energies come out 10-20 % low. Neutron users correct that
by scaling the computed energies and refitting; here s is fitted against the measurement and reported with
the scores at s = 1 (the headline) and at the fitted s. One routine serves both kinds of measurement:

- a DOS table (``phonon_compare.compare_phdos``): the predicted DOS becomes g_s(E) = g(E / s) / s;
- an S(|Q|, E) map (``sqe.compare_sqe``): the force constants are scaled by s^2, so every frequency is
  multiplied by s with unchanged eigenvectors, and Bose, Debye-Waller and 1/omega factors, the self terms'
  partial DOS and the mean-square displacements are recomputed at each s (not the energy axis stretched).

The search is a grid over the bounds (steps of ``GRID_STEP_ENERGY_SCALE``: chi^2(s) of a map can have more than
one minimum where branches pass each other) refined by bounded Brent minimisation between the grid
neighbours of the best point. The uncertainty is sigma_s = sqrt(2 / chi2''(s)) at the minimum, chi2 the
weighted sum of squares (not reduced), with the curvature from a parabola through five points around the
minimum (a map's chi^2 moves in small steps as modes cross energy bins, so a three-point difference over a
tiny step would measure those steps instead of the curvature).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError

__all__ = ["ENERGY_SCALE_BOUNDS", "EnergyScaleFit", "minimise_energy_scale", "energy_scale_phrase"]

#: Allowed range of the fitted energy scale s. Universal potentials are 10-20 % soft; a fit that wants s
#: outside 0.7-1.4 says that no single stiffness factor describes the measurement, and is reported as such.
ENERGY_SCALE_BOUNDS = (0.7, 1.4)
#: Step of the first, coarse search over the bounds.
GRID_STEP_ENERGY_SCALE = 0.05
#: Absolute tolerance on s of the refinement (well below any sigma_s met in practice on measured data,
#: 0.003-0.01, and below what a 0.25 meV energy grid resolves at 50 meV).
ENERGY_SCALE_TOLERANCE = 1e-3
#: Spacing of the five points the curvature parabola is fitted through (s +- 1 and 2 steps).
CURVATURE_STEP_ENERGY_SCALE = 0.01


@dataclass
class EnergyScaleFit:
    """A fitted energy scale.

    Attributes:
        scale: the fitted s (dimensionless: predicted energies are multiplied by it).
        error: sigma_s from the curvature of chi^2 at the minimum.
        bounds: the range s was fitted in.
        scores: the comparison's scores at s (same keys as its headline ``scores`` at s = 1).
        details: how it was fitted (chi^2 at s = 1 and at the fitted s, curvature, evaluations, seconds),
            JSON-ready.
        predicted: the processed prediction at the fitted s on the comparison's grid (DOS: (n,), unit
            area; map: the Q-integrated cut), for plots.
    """

    scale: float
    error: float
    bounds: tuple[float, float]
    scores: dict
    details: dict = field(default_factory=dict)
    predicted: np.ndarray | None = None

    def value_text(self) -> str:
        """``1.2510 ± 0.0004``: s to the decimals that show two significant digits of sigma (at least three)."""
        digits = 3 if not self.error > 0 else max(3, 1 - int(np.floor(np.log10(self.error))))
        return f"{self.scale:.{digits}f} ± {self.error:.{digits}f}"

    def to_dict(self) -> dict:
        """The four JSON fields a comparison gains when s is fitted."""
        return {"energy_scale": self.scale, "energy_scale_error": self.error,
                "energy_scale_bounds": [float(b) for b in self.bounds],
                "scores_at_energy_scale": {k: float(v) for k, v in self.scores.items()}}


def energy_scale_phrase(fit: EnergyScaleFit, formats: dict[str, str]) -> str:
    """``fitted energy scale s = 1.123 ± 0.004: pearson 0.91, ...`` for a text line; ``formats`` maps each score
    key to its format spec, in the order printed."""
    scores = ", ".join(f"{key} {fit.scores[key]:{spec}}" for key, spec in formats.items())
    return f"fitted energy scale s = {fit.value_text()}: {scores}"


def _parabola_curvature(chi2_of, centre: float, step: float, at_centre: float) -> float:
    """d^2 chi^2 / ds^2 at ``centre``: twice the quadratic coefficient of a least-squares parabola through
    chi^2 at centre + step * (-2, -1, 0, 1, 2) (the centre's value given)."""
    offsets = step * np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    values = np.array([at_centre if offset == 0 else chi2_of(centre + offset) for offset in offsets])
    quadratic, _, _ = np.polyfit(offsets, values - at_centre, 2)
    return 2.0 * float(quadratic)


def minimise_energy_scale(chi2_of, source: str | None, bounds=ENERGY_SCALE_BOUNDS,
                          grid_step: float = GRID_STEP_ENERGY_SCALE, tolerance: float = ENERGY_SCALE_TOLERANCE,
                          curvature_step: float = CURVATURE_STEP_ENERGY_SCALE) -> tuple[float, float, float, dict]:
    """Minimise ``chi2_of(s)`` over ``bounds``.

    Args:
        chi2_of: s -> the weighted sum of squared residuals (not reduced) of the comparison at energy scale s,
            with whatever linear parameters the comparison fits (scale, background) refitted at each s.
        source: names the measurement in an error.
        bounds: (low, high) range of s.

    Returns:
        ``(s, chi2 at s, d^2 chi^2 / ds^2 at s, details)``; sigma_s = sqrt(2 / curvature) for a chi^2 in
        units of the measured errors.

    Raises:
        InputError: the minimum lies at a bound (the measurement wants an s outside them): within
            2 x ``curvature_step`` of it, where the curvature could not be measured inside the bounds and the
            refinement stops short of a bound it is pressed against; or chi^2 has no upward curvature at the
            minimum (s is not determined).
    """
    from scipy.optimize import minimize_scalar

    low, high = (float(b) for b in bounds)
    if not 0 < low < 1 < high:
        raise InputError("energy scale bounds", f"need 0 < low < 1 < high (got {bounds!r})")
    start = time.perf_counter()
    calls = {"n": 0}

    def counted(s: float) -> float:
        calls["n"] += 1
        value = float(chi2_of(float(s)))
        if not np.isfinite(value):
            raise InputError(source, f"the energy-scale fit met a non-finite chi^2 at s = {s:.4g}")
        return value

    grid = np.linspace(low, high, int(round((high - low) / grid_step)) + 1)
    values = np.array([counted(s) for s in grid])
    best = int(np.argmin(values))
    bracket = (grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)])
    refined = minimize_scalar(counted, bounds=bracket, method="bounded", options={"xatol": tolerance})
    scale, chi2 = (float(refined.x), float(refined.fun)) if refined.fun <= values[best] else \
        (float(grid[best]), float(values[best]))
    if min(scale - low, high - scale) < 2 * curvature_step:
        bound = low if scale - low < high - scale else high
        raise InputError(source, f"the energy-scale fit hit its bound s = {bound:g} (allowed {low:g}-{high:g}): no "
                                 "single stiffness factor in that range describes the measurement")
    curvature = _parabola_curvature(counted, scale, curvature_step, chi2)
    if not curvature > 0:
        raise InputError(source, f"chi^2 is not curved upwards at the fitted energy scale s = {scale:.4g}: s is not "
                                 "determined by the measurement")
    details = {"grid_step": grid_step, "tolerance": tolerance, "curvature_step": curvature_step,
               "curvature": curvature, "evaluations": calls["n"],
               "grid_chi2": {f"{s:.2f}": float(v) for s, v in zip(grid, values)},
               "wall_s": round(time.perf_counter() - start, 3)}
    return scale, chi2, curvature, details
