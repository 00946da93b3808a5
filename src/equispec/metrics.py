"""Spectrum metrics shared by training, ``equispec evaluate`` and the README.

All take arrays of shape (n_materials, n_bins) on a common grid.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mse", "mae", "r2", "wasserstein", "spectrum_metrics", "xas_metrics"]


def mse(y_true, y_pred) -> float:
    """Mean squared error over bins and materials."""
    return float(np.mean((np.asarray(y_true) - np.asarray(y_pred)) ** 2))


def mae(y_true, y_pred) -> float:
    """Mean absolute error over bins and materials."""
    return float(np.mean(np.abs(np.asarray(y_true) - np.asarray(y_pred))))


def r2(y_true, y_pred) -> float:
    """sklearn ``r2_score`` with its default averaging (uniform over bins)."""
    from sklearn.metrics import r2_score  # imported on use: sklearn and scipy.stats cost ~0.7 s at start-up

    return float(r2_score(np.asarray(y_true), np.asarray(y_pred)))


def wasserstein(grid, y_true, y_pred) -> float:
    """Mean over materials of the 1D Wasserstein distance between spectra as distributions on ``grid``
    (in the grid's unit). A spectrum that is zero everywhere has no distribution and gives NaN."""
    from scipy.stats import wasserstein_distance

    distances = []
    for t, p in zip(np.asarray(y_true), np.asarray(y_pred)):
        if t.sum() <= 0 or p.sum() <= 0:
            distances.append(np.nan)
        else:
            distances.append(wasserstein_distance(grid, grid, t, p))
    return float(np.mean(distances))


def spectrum_metrics(grid, y_true, y_pred) -> dict:
    """``{n, mse, mae, r2, wasserstein_cm1}`` for a phonon-DOS grid in cm^-1."""
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    return {
        "n": int(len(y_true)),
        "mse": mse(y_true, y_pred),
        "mae": mae(y_true, y_pred),
        "r2": r2(y_true, y_pred),
        "wasserstein_cm1": wasserstein(grid, y_true, y_pred),
    }


def xas_metrics(y_true, y_pred, train_mean) -> dict:
    """``{n, mse, median_mse, baseline_median_mse, eta}`` for site spectra (rows) in the data's units.

    ``eta`` is OmniXAS's figure of merit (Kharel et al. 2024): the median over spectra of the per-spectrum
    MSE of always predicting ``train_mean`` (the mean training spectrum), divided by that median for the
    model. Medians make it robust to a few badly predicted sites; higher is better, 1 is no skill.
    """
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    per_spectrum = np.mean((y_true - y_pred) ** 2, axis=1)
    baseline = np.mean((y_true - np.asarray(train_mean, dtype=float)[None, :]) ** 2, axis=1)
    median = float(np.median(per_spectrum))
    return {
        "n": int(len(y_true)),
        "mse": float(per_spectrum.mean()),
        "median_mse": median,
        "baseline_median_mse": float(np.median(baseline)),
        "eta": float(np.median(baseline) / median) if median > 0 else float("inf"),
    }
