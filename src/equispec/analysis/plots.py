"""Figures of comparisons: measurement, processed prediction and residual."""

from __future__ import annotations

import os
from pathlib import Path

from .comparison import Comparison

__all__ = ["plot_comparison"]


def plot_comparison(comparison: Comparison, path: str | os.PathLike) -> Path:
    """Overlay of measurement and processed prediction with the residual below; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io.spectra import check_figure_path, save_figure

    path = check_figure_path(path)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 5.0), dpi=120, sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    label = f"{comparison.name}"
    if comparison.shift_ev is not None:
        label += f" (shifted {comparison.shift_ev:+.2f} eV)"
    top.plot(comparison.grid, comparison.measured, "k-", lw=1.5, label=f"measured: {Path(comparison.measured_name).name}")
    top.plot(comparison.grid, comparison.predicted, "C3-", lw=1.5, label=f"predicted: {label}")
    fit = comparison.energy_scale
    if fit is not None and fit.predicted is not None:
        top.plot(comparison.grid, fit.predicted, "C2--", lw=1.2, label=f"predicted, energies x {fit.scale:.3f}")
    s = comparison.scores
    title = (f"MSE {s['mse']:.3g}   cosine {s['cosine']:.3f}   Pearson {s['pearson']:.3f}   "
             f"Spearman {s['spearman']:.3f}")
    if comparison.kind == "phdos":  # the resolution changes the answer: the figure says which was applied
        title += f"\nresolution: {comparison.details.get('resolution_mev') or 'none (native)'}"
    if fit is not None:
        title += (f"\nfitted energy scale s = {fit.value_text()}: MSE {fit.scores['mse']:.3g}, "
                  f"Pearson {fit.scores['pearson']:.3f}")
    top.set_title(title, fontsize=8)
    top.set_ylabel("normalised $\\mu$" if comparison.kind == "xas" else "neutron-weighted DOS (1/meV)")
    top.legend(fontsize=7, frameon=False)
    bottom.plot(comparison.grid, comparison.residual, "C0-", lw=1)
    bottom.axhline(0, color="0.5", lw=0.5)
    bottom.set_ylabel("residual")
    bottom.set_xlabel("Energy (eV)" if comparison.kind == "xas" else "Energy (meV)")
    return save_figure(fig, path)
