import numpy as np
import pytest

from equispec.metrics import spectrum_metrics, wasserstein

GRID = np.arange(0, 1001, 20.0)


def peak(centre_cm1, width_cm1=30.0):
    return np.exp(-0.5 * ((GRID - centre_cm1) / width_cm1) ** 2)


def test_known_values():
    y_true = np.stack([peak(300), peak(600)])
    y_pred = np.stack([peak(300), peak(660)])
    metrics = spectrum_metrics(GRID, y_true, y_pred)
    assert metrics["n"] == 2
    assert metrics["mse"] == pytest.approx(np.mean((y_true - y_pred) ** 2))
    assert metrics["mae"] == pytest.approx(np.mean(np.abs(y_true - y_pred)))
    # a rigid shift of one peak by 60 cm^-1 moves its distribution by 60; mean over two materials = 30
    assert metrics["wasserstein_cm1"] == pytest.approx(30.0, abs=0.5)


def test_perfect_prediction():
    y = np.stack([peak(200), peak(500), peak(800)])
    metrics = spectrum_metrics(GRID, y, y)
    assert metrics["mse"] == 0 and metrics["r2"] == pytest.approx(1.0) and metrics["wasserstein_cm1"] == 0


def test_r2_of_predicting_the_mean_is_zero():
    y = np.stack([peak(200), peak(500), peak(800)])
    assert spectrum_metrics(GRID, y, np.repeat(y.mean(0, keepdims=True), 3, 0))["r2"] == pytest.approx(0.0, abs=1e-12)


def test_empty_spectrum_gives_nan_not_a_crash():
    assert np.isnan(wasserstein(GRID, [peak(300)], [np.zeros_like(GRID)]))
