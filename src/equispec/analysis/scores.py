"""Agreement scores between a processed prediction and a measurement on a common grid.

``mse`` and the Wasserstein distance come from :mod:`equispec.metrics`, shared with training and
``equispec evaluate``; cosine, Pearson and Spearman are the scores the XAS literature reports
(e.g. Lightshow's comparison of codes with experiment).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import pearsonr, spearmanr

from ..metrics import mse, wasserstein

__all__ = ["cosine", "pearson", "spearman", "wasserstein_distance", "score_spectra", "SCORE_KEYS",
           "HIGHER_IS_BETTER"]

#: Scores in the order they are printed.
SCORE_KEYS = ("mse", "cosine", "pearson", "spearman", "wasserstein")
#: For ranking candidates: whether a larger value of each score means better agreement.
HIGHER_IS_BETTER = {"mse": False, "cosine": True, "pearson": True, "spearman": True, "wasserstein": False}


def cosine(a, b) -> float:
    """Cosine similarity of two spectra as vectors (1 = same shape, scale ignored)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norm) if norm > 0 else float("nan")


def pearson(a, b) -> float:
    """Pearson correlation coefficient (scale and offset ignored)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(pearsonr(a, b).statistic)


def spearman(a, b) -> float:
    """Spearman rank correlation (any monotonic rescaling ignored)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def wasserstein_distance(grid, measured, predicted) -> float:
    """1D Wasserstein (earth mover's) distance between the spectra as distributions on ``grid``, in the
    grid's unit. Negative values (noise below a background) are clipped to zero first."""
    return wasserstein(grid, [np.clip(measured, 0, None)], [np.clip(predicted, 0, None)])


def score_spectra(grid, measured, predicted) -> dict[str, float]:
    """``{mse, cosine, pearson, spearman, wasserstein}`` of a prediction against a measurement, both (n,)
    on the same ``grid``; ``mse`` in the (normalised) spectra's unit squared, ``wasserstein`` in the
    grid's unit."""
    return {"mse": mse(measured, predicted), "cosine": cosine(measured, predicted),
            "pearson": pearson(measured, predicted), "spearman": spearman(measured, predicted),
            "wasserstein": wasserstein_distance(grid, measured, predicted)}
