"""How far to trust a fast-mode phonon DOS: the ensemble spread calibrated on the valid split.

The members' spread ``sigma`` (per bin) ranks materials by error well but is too narrow to read as an error
bar. Two numbers fitted on the valid split fix that, and both are stored in ``model.json`` under
``spread_calibration`` (read through :class:`~equispec.models.model_info.ModelInfo`):

- ``sigma_scale`` ``k``, a split-conformal scale: the 95th percentile over all valid (material, bin) values of
  ``|DFPT - prediction| / (2 sigma)``, so that ``prediction ± 2 k sigma`` covers 95 % of the valid bins;
- the expected error of a structure, ``expected_mse = mse_per_variance * mean_bins((k sigma)^2)``, where the
  factor makes the mean expected MSE of the valid materials equal to their mean measured MSE, and the sorted
  expected errors of the valid materials, against which a new structure gets its percentile.

A structure above ``flag_percentile`` (90) of the valid materials is outside what the network was checked
on: its summary says so and suggests ``--mode hybrid``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError

__all__ = ["COVERAGE", "FLAG_PERCENTILE", "Reliability", "SpreadCalibration", "fit_spread_calibration",
           "calibration_checks"]

#: Share of valid (material, bin) values that prediction ± 2 k sigma is calibrated to cover.
COVERAGE = 0.95
#: Percentile of the valid materials' expected error above which a structure is flagged.
FLAG_PERCENTILE = 90.0
_TINY = 1e-12  # sigma floor (a bin where every member predicts exactly 0)


@dataclass(frozen=True)
class Reliability:
    """Calibrated trust in one fast-mode prediction.

    Attributes:
        expected_mse: expected MSE against a DFPT DOS (max-normalised scale, like the metrics).
        percentile: share (0-100) of the valid materials whose expected MSE is lower.
        flagged: above ``flag_percentile``: further from the training data than 9 in 10 valid materials.
        sigma_scale: the conformal scale k applied to ``dos_std`` for the ±2 sigma band.
    """

    expected_mse: float
    percentile: float
    flagged: bool
    sigma_scale: float

    def to_dict(self) -> dict:
        return {"expected_mse": self.expected_mse, "percentile_among_valid": self.percentile,
                "beyond_valid_p90": self.flagged, "sigma_scale": self.sigma_scale}

    def note(self, name: str) -> str | None:
        """The one-line warning for a flagged structure, else None."""
        if not self.flagged:
            return None
        return (f"note: {name}: expected error above {self.percentile:.0f}% of the valid materials: the network is "
                f"unreliable here; try --mode hybrid (network + physics)")


@dataclass(frozen=True, eq=False)
class SpreadCalibration:
    """The typed ``spread_calibration`` record of ``model.json``."""

    sigma_scale: float
    mse_per_variance: float
    valid_expected_mse: np.ndarray  # (n_valid,) sorted
    flag_percentile: float = FLAG_PERCENTILE

    @classmethod
    def from_dict(cls, record, where: str = "spread_calibration") -> "SpreadCalibration":
        if not isinstance(record, dict):
            raise ModelError(where, "expected a JSON object")
        for key in ("sigma_scale", "mse_per_variance"):
            value = record.get(key)
            if not (isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
                    and value > 0):
                raise ModelError(f"{where}.{key}", f"must be a positive number (got {value!r:.40})")
        values = record.get("valid_expected_mse")
        if (not isinstance(values, list) or len(values) < 10 or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) and v >= 0 for v in values)):
            raise ModelError(f"{where}.valid_expected_mse", "expected a list of at least 10 non-negative numbers")
        flag = record.get("flag_percentile", FLAG_PERCENTILE)
        if not (isinstance(flag, (int, float)) and not isinstance(flag, bool) and 0 < flag < 100):
            raise ModelError(f"{where}.flag_percentile", f"must lie in (0, 100) (got {flag!r:.40})")
        return cls(float(record["sigma_scale"]), float(record["mse_per_variance"]),
                   np.sort(np.asarray(values, dtype=float)), float(flag))

    def expected_mse(self, std: np.ndarray) -> np.ndarray:
        """(n,) expected MSE of predictions with (n, bins) (or (bins,)) ensemble spread ``std``."""
        std = np.atleast_2d(np.asarray(std, dtype=float))
        return self.mse_per_variance * np.mean((self.sigma_scale * std) ** 2, axis=1)

    def reliability(self, std: np.ndarray) -> Reliability:
        """The calibrated trust in one prediction with (bins,) spread ``std``."""
        expected = float(self.expected_mse(std)[0])
        below = np.searchsorted(self.valid_expected_mse, expected, side="left")
        percentile = 100.0 * below / len(self.valid_expected_mse)
        threshold = float(np.percentile(self.valid_expected_mse, self.flag_percentile))
        return Reliability(expected, percentile, expected > threshold, self.sigma_scale)


def _z(truth, prediction, std) -> np.ndarray:
    """|DFPT - prediction| / 2 sigma, with sigma and the error below ``_TINY`` taken as 0 (the float32 members
    leave values like 1e-41 where they all predict nothing)."""
    error = np.abs(truth - prediction)
    error = np.where(error < _TINY, 0.0, error)
    return error / (2.0 * np.maximum(std, _TINY))


def fit_spread_calibration(truth: np.ndarray, prediction: np.ndarray, std: np.ndarray,
                           coverage: float = COVERAGE) -> dict:
    """The ``spread_calibration`` record from (n, bins) valid labels, predictions and ensemble spread."""
    truth, prediction, std = (np.asarray(a, dtype=float) for a in (truth, prediction, std))
    z = _z(truth, prediction, std)
    scale = float(np.quantile(z, coverage, method="higher"))  # the conformal quantile: covers >= coverage
    mse = ((truth - prediction) ** 2).mean(axis=1)
    variance = np.mean((scale * std) ** 2, axis=1)
    factor = float(mse.sum() / variance.sum())
    return {"method": "split conformal on the valid split: sigma_scale = quantile_0.95 |DFPT - prediction| / 2 sigma "
                      "over all (material, bin); expected_mse = mse_per_variance * mean_bins((sigma_scale sigma)^2)",
            "coverage": coverage, "sigma_scale": scale, "mse_per_variance": factor,
            "flag_percentile": FLAG_PERCENTILE, "valid_expected_mse": sorted((factor * variance).tolist())}


def calibration_checks(truth: np.ndarray, prediction: np.ndarray, std: np.ndarray, folds: int = 5,
                       seed: int = 0) -> dict:
    """What the calibration promises, measured on labelled data: in-sample, and cross-fitted (fit on
    ``folds - 1`` parts, scored on the one left out), which estimates what an unseen split will see.

    Returns: coverage of ±2 k sigma over all bins, and the MSE of flagged materials (expected error above
    the 90th percentile) over the MSE of the rest, each in-sample and cross-fitted.
    """
    truth, prediction, std = (np.asarray(a, dtype=float) for a in (truth, prediction, std))
    mse = ((truth - prediction) ** 2).mean(axis=1)

    def score(calibration: SpreadCalibration, rows) -> tuple[np.ndarray, np.ndarray]:
        inside = _z(truth[rows], prediction[rows], std[rows]) <= calibration.sigma_scale
        flagged = np.array([calibration.reliability(s).flagged for s in std[rows]])
        return inside, flagged

    full = SpreadCalibration.from_dict(fit_spread_calibration(truth, prediction, std))
    inside, flagged = score(full, np.arange(len(mse)))
    order = np.random.default_rng(seed).permutation(len(mse))
    inside_cv, flagged_cv = np.zeros_like(inside), np.zeros(len(mse), dtype=bool)
    parts = np.array_split(order, folds)
    for part in parts:
        rest = np.setdiff1d(order, part)
        fold = SpreadCalibration.from_dict(fit_spread_calibration(truth[rest], prediction[rest], std[rest]))
        inside_cv[part], flagged_cv[part] = score(fold, part)

    def ratio(mask):
        return float(mse[mask].mean() / mse[~mask].mean()) if mask.any() and (~mask).any() else float("nan")

    return {"n_materials": int(len(mse)), "n_bins": int(truth.shape[1]), "sigma_scale": full.sigma_scale,
            "coverage_2sigma_raw": float((_z(truth, prediction, std) <= 1.0).mean()),
            "coverage_2sigma_calibrated": float(inside.mean()),
            "coverage_2sigma_cross_fitted": float(inside_cv.mean()),
            "coverage_2sigma_cross_fitted_per_fold": [float(inside_cv[part].mean()) for part in parts],
            "n_flagged": int(flagged.sum()), "mse_ratio_flagged_vs_rest": ratio(flagged),
            "n_flagged_cross_fitted": int(flagged_cv.sum()), "mse_ratio_flagged_vs_rest_cross_fitted": ratio(flagged_cv),
            "mean_mse": float(mse.mean()), "mean_expected_mse": float(full.expected_mse(std).mean()),
            "folds": folds, "seed": seed}
