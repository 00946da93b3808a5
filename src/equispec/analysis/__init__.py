"""Predictions next to measurements: readers, XAS and phonon-DOS processing, scores, compare and identify."""

from .compare import compare, compare_spectra
from .comparison import Comparison
from .identify import identify
from .phonon_compare import compare_phdos
from .plots import plot_comparison
from .xas_compare import compare_xas
from .readers import MeasuredDos, MeasuredXas, read_measured_dos, read_measured_xas, read_xas_text, read_xdi
from .scores import SCORE_KEYS, score_spectra

__all__ = ["Comparison", "MeasuredDos", "MeasuredXas", "SCORE_KEYS", "compare", "compare_phdos", "compare_spectra",
           "compare_xas", "format_scores", "identify", "plot_comparison", "read_measured_dos", "read_measured_xas",
           "read_xas_text", "read_xdi", "score_spectra"]


def format_scores(comparison: Comparison) -> str:
    """One human line: the prediction, its scores and (XAS) the fitted shift."""
    s = comparison.scores
    text = (f"{comparison.name}: mse {s['mse']:.4g}, cosine {s['cosine']:.4f}, pearson {s['pearson']:.4f}, "
            f"spearman {s['spearman']:.4f}, wasserstein {s['wasserstein']:.3g} {comparison.energy_unit}")
    if comparison.shift_ev is not None:
        text += f", shift {comparison.shift_ev:+.2f} eV"
    return text
