"""Predictions next to measurements: readers, XAS, phonon-DOS and S(|Q|,E) processing, scores, and the
comparison results (one protocol, :class:`ComparisonResult`). Predicting and then comparing, by model name,
is ``equispec.workflows``; figures are ``equispec.plots``."""

from .compare import compare_spectra
from .comparison import Comparison, ComparisonResult
from .energy_scale import ENERGY_SCALE_BOUNDS, EnergyScaleFit
from .phonon_compare import compare_phdos
from .xas_compare import compare_xas
from .readers import MeasuredDos, MeasuredXas, read_measured_dos, read_measured_xas, read_xas_text, read_xdi
from .scores import SCORE_KEYS, score_spectra

__all__ = ["Comparison", "ComparisonResult", "ENERGY_SCALE_BOUNDS", "EnergyScaleFit", "MeasuredDos", "MeasuredXas",
           "SCORE_KEYS", "compare_phdos", "compare_spectra", "compare_xas", "format_scores", "read_measured_dos",
           "read_measured_xas", "read_xas_text", "read_xdi", "score_spectra"]


def format_scores(comparison: ComparisonResult) -> str:
    """One human line for a comparison of any kind: its ``summary_line()``."""
    return comparison.summary_line()
