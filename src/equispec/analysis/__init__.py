"""Predictions next to measurements: readers, XAS and phonon-DOS processing, scores, compare and identify."""

from .compare import compare, compare_spectra
from .comparison import Comparison
from .energy_scale import ENERGY_SCALE_BOUNDS, EnergyScaleFit, energy_scale_phrase
from .identify import identify
from .phonon_compare import compare_phdos
from .plots import plot_comparison
from .xas_compare import compare_xas
from .readers import MeasuredDos, MeasuredXas, read_measured_dos, read_measured_xas, read_xas_text, read_xdi
from .scores import SCORE_KEYS, score_spectra

__all__ = ["Comparison", "ENERGY_SCALE_BOUNDS", "EnergyScaleFit", "MeasuredDos", "MeasuredXas", "SCORE_KEYS", "compare",
           "compare_phdos", "compare_spectra",
           "compare_xas", "format_scores", "identify", "plot_comparison", "read_measured_dos", "read_measured_xas",
           "read_xas_text", "read_xdi", "score_spectra"]


def format_scores(comparison: Comparison) -> str:
    """One human line: the prediction, its scores and (XAS) the fitted shift."""
    s = comparison.scores
    text = (f"{comparison.name}: mse {s['mse']:.4g}, cosine {s['cosine']:.4f}, pearson {s['pearson']:.4f}, "
            f"spearman {s['spearman']:.4f}, wasserstein {s['wasserstein']:.3g} {comparison.energy_unit}")
    if comparison.shift_ev is not None:
        text += f", shift {comparison.shift_ev:+.2f} eV"
    if comparison.energy_scale is not None:
        text += "; " + energy_scale_phrase(comparison.energy_scale, {"mse": ".4g", "cosine": ".4f", "pearson": ".4f",
                                                                     "spearman": ".4f", "wasserstein": ".3g"})
    return text
