"""Every figure equispec draws, in one module: predicted spectra (phonon DOS, XAS, neutron), dispersions,
single-crystal maps and comparisons of any kind.

Figures sit above the layers they draw (``io``, ``physics``, ``inference``, ``analysis``), so nothing in those
imports this module; the CLI, ``workflows`` and tests do. matplotlib is imported inside each function (and
``analysis`` only for type hints): checking a figure path before a run must not load either.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import InputError
from .io.files import atomic_write, display_name
from .io.spectra import _check_writable, _unique_labels
from .io.units import CM1_PER_MEV, MEV_PER_THZ

if TYPE_CHECKING:
    from .analysis.comparison import Comparison, ComparisonResult
    from .analysis.sqe import SqeComparison

__all__ = ["FIGURE_SUFFIXES", "check_figure_path", "save_figure", "plot_phdos", "plot_xas", "plot_ins",
           "plot_branches", "draw_branches", "plot_dispersion", "plot_single_crystal_map", "plot_comparison"]


#: Figure formats the plots can be written in (matplotlib's Agg backend).
FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".eps", ".ps", ".tif", ".tiff", ".webp")


def check_figure_path(path: str | Path) -> Path:
    """Fail before any work if a figure cannot be written there: existing folder, known image format."""
    path = Path(path)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise InputError(display_name(path), f"figure must end in one of {', '.join(FIGURE_SUFFIXES)}")
    return _check_writable(path)


def save_figure(fig, path: Path) -> Path:
    """Lay out and write a matplotlib figure atomically in the format its suffix names, then close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    suffix = path.suffix.lstrip(".") or "png"
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=suffix))
    plt.close(fig)
    return path


# --- predicted spectra -------------------------------------------------------------------------------
def plot_phdos(predictions, path: str | Path) -> Path:
    """Overlay of predicted DOS, shaded ±2σ of the ensemble spread where there is one; for a single structure
    also its per-element partial DOS."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = check_figure_path(path)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for label, p in zip(_unique_labels(predictions), predictions):
        (line,) = ax.plot(p.freq_cm1, p.dos, lw=2, label=f"{label} ({p.structure.composition.reduced_formula})")
        band = getattr(p, "dos_band", None)  # calibrated ±2σ (95 % of valid bins), else the raw spread
        calibrated = band is not None
        if band is None and getattr(p, "dos_std", None) is not None:
            band = 2 * p.dos_std
        if band is not None:
            ax.fill_between(p.freq_cm1, np.clip(p.dos - band, 0, None), p.dos + band, color=line.get_color(),
                            alpha=0.25, lw=0, label=f"{label} ±2σ " + ("calibrated" if calibrated else "ensemble"))
    if len(predictions) == 1 and len(predictions[0].partial_dos) > 1:
        for element, partial in predictions[0].partial_dos.items():
            ax.plot(predictions[0].freq_cm1, partial, lw=1, ls="--", label=f"{element} partial")
    ax.set_xlabel("Frequency (cm$^{-1}$)")
    ax.set_ylabel("Phonon DOS (max-normalised)")
    ax.set_xlim(predictions[0].freq_cm1[0], predictions[0].freq_cm1[-1])
    ax.set_ylim(bottom=0)
    secondary = ax.secondary_xaxis("top", functions=(lambda x: x / CM1_PER_MEV, lambda x: x * CM1_PER_MEV))
    secondary.set_xlabel("Energy (meV)")
    ax.legend(fontsize=7, frameon=False)
    return save_figure(fig, path)


def plot_xas(predictions, path: str | Path) -> Path:
    """Site-averaged spectra; for a single structure also each inequivalent site (thin, with multiplicity)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = check_figure_path(path)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for label, p in zip(_unique_labels(predictions), predictions):
        ax.plot(p.energy_ev, p.mu, lw=2, label=f"{label} ({p.structure.composition.reduced_formula}), average")
    if len(predictions) == 1 and len(predictions[0].site_indices) > 1:
        p = predictions[0]
        for index, multiplicity, mu in zip(p.site_indices, p.multiplicities, p.site_mu):
            ax.plot(p.energy_ev, mu, lw=1, ls="--", label=f"{p.element} site {index} (x{multiplicity})")
    p = predictions[0]
    ax.set_xlabel(f"Photon energy (eV, {p.element} {p.edge} edge, FEFF scale)")
    ax.set_ylabel("Absorption μ (training-data units)")
    ax.set_xlim(p.energy_ev[0], p.energy_ev[-1])
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, frameon=False)
    return save_figure(fig, path)


def plot_ins(predictions, neutron, path: str | Path) -> Path:
    """Per structure: the powder S(|Q|, E) map as a colour image (where there is one) beside the
    neutron-weighted DOS (and, on the full range, the plain DOS)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    path = check_figure_path(path)
    rows = len(neutron)
    fig, axes = plt.subplots(rows, 3, figsize=(16.0, 3.8 * rows), dpi=120, squeeze=False,
                             gridspec_kw={"width_ratios": [1.2, 1, 1]})
    for (left, middle, right), label, p, n in zip(axes, _unique_labels(predictions), predictions, neutron):
        formula = p.structure.composition.reduced_formula
        if n.powder is not None:
            m = n.powder
            values = np.where(m.intensity > 0, m.intensity, np.nan)
            top = float(np.nanmax(values)) if np.isfinite(values).any() else 1.0
            image = left.pcolormesh(m.q_inv_ang, m.energy_mev, values.T, shading="nearest", cmap="viridis",
                                    norm=LogNorm(vmin=top * 1e-3, vmax=top))
            fig.colorbar(image, ax=left, label="S(|Q|,E) (mbarn/sr/meV per atom)")
            left.set_xlabel("|Q| (1/Å)")
            left.set_ylabel("Energy transfer (meV)")
            where = f", Ei = {n.ei_mev:g} meV" if n.ei_mev else ""
            shares = ", ".join(f"{x:.2f}" for x in m.details.get("term_shares", [1.0]))
            left.set_title(f"{label} ({formula}): powder S(|Q|,E), {n.temperature_k:g} K{where}\n"
                           f"{m.phonon_order}-phonon (shares {shares})", fontsize=8)
            middle.plot(m.energy_mev, m.q_integrated(), "C3-", lw=1.3, label=f"{m.phonon_order}-phonon")
            if m.one_phonon is not None:
                middle.plot(m.energy_mev, m.q_integrated(m.one_phonon), "C0--", lw=1, label="one-phonon part")
            middle.set_xlabel("Energy transfer (meV)")
            middle.set_ylabel("Q-integrated S (mbarn/meV/Å per atom)")
            middle.set_title(f"{label}: Q-integrated cut over the {'kinematic' if n.ei_mev else 'whole'} range",
                             fontsize=8)
            middle.set_ylim(bottom=0)
            middle.legend(fontsize=7, frameon=False)
        else:
            for ax in (left, middle):
                ax.set_axis_off()
            left.text(0.5, 0.5, "no S(|Q|,E) in fast mode\n(use --mode physics)", ha="center", va="center",
                      transform=left.transAxes)
        right.plot(n.energy_mev, n.neutron_dos, "C3-", lw=1.5, label="neutron-weighted DOS")
        if n.powder is not None:
            area = np.trapezoid(n.dos, n.energy_mev)
            right.plot(n.energy_mev, n.dos / area if area > 0 else n.dos, "k-", lw=0.8, label="phonon DOS")
        right.set_xlabel("Energy (meV)")
        right.set_ylabel("DOS (unit area, 1/meV)")
        right.set_xlim(0, n.energy_mev[-1])
        right.set_ylim(bottom=0)
        resolution = n.details.get("resolution_fwhm_mev")
        right.set_title(f"{label}: resolution {resolution if resolution is not None else 'native'}", fontsize=8)
        right.legend(fontsize=7, frameon=False)
    return save_figure(fig, path)


# --- dispersion and single-crystal maps --------------------------------------------------------------
def plot_branches(ax, distance: np.ndarray, branches: np.ndarray, imaginary_color: str | None = None, **style) -> None:
    """One continuous piece of a path's branches, (n,) distance against (n, n_branches) frequencies: real
    parts solid, imaginary (negative) parts dashed, in ``imaginary_color`` (default: the same colour)."""
    branches = np.asarray(branches, float)
    ax.plot(distance, np.where(branches >= 0, branches, np.nan), **style)
    if (branches < 0).any():
        dashed = {**style, "ls": "--"}
        if imaginary_color is not None:
            dashed["color"] = imaginary_color
        ax.plot(distance, np.where(branches < 0, branches, np.nan), **dashed)


def draw_branches(ax, dispersion, unit: str = "THz", **style) -> None:
    """The branches on ``ax`` against distance, broken between pieces of the path, imaginary parts dashed,
    with the labelled vertices as ticks."""
    factor = 1.0 if unit == "THz" else MEV_PER_THZ
    distance = dispersion.distance_inv_ang
    bounds = [0, *dispersion.samples.breaks, len(distance)]
    for start, end in zip(bounds[:-1], bounds[1:]):
        plot_branches(ax, distance[start:end], factor * dispersion.frequencies_thz[start:end], imaginary_color="C3",
                      **{"color": "C0", "lw": 1.1, **style})
    positions, names = dispersion.samples.ticks()
    for position in positions:
        ax.axvline(position, color="0.6", lw=0.6)
    ax.set_xticks(positions, names)
    ax.set_xlim(distance[0], distance[-1])


def plot_dispersion(dispersion, path: str | Path, prediction=None) -> Path:
    """Branches along the labelled path, imaginary ones below zero (dashed), and the phonon DOS beside them on
    the same energy axis (physics mode's full-range DOS)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = check_figure_path(path)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.0, 4.8), dpi=120, sharey=True,
                                      gridspec_kw={"width_ratios": [3.2, 1], "wspace": 0.05})
    draw_branches(left, dispersion)
    left.axhline(0.0, color="k", lw=0.6)
    left.set_ylabel("Frequency (THz)")
    left.set_xlabel("Wave vector along the path")
    imaginary = dispersion.imaginary
    note = (f"imaginary branches down to {imaginary['min_frequency_thz']:.2f} THz (dashed)"
            if imaginary["share"] > 0 else "no imaginary branch")
    physics = getattr(prediction, "physics", None) or {}
    made = f", {physics['potential']}" if physics.get("potential") else ""
    formula = dispersion.structure.composition.reduced_formula if dispersion.structure is not None else ""
    left.set_title(f"{dispersion.name} ({formula}{made}): {note}", fontsize=9)
    full = getattr(prediction, "full_range", None)
    if full is not None:
        frequency = np.asarray(full.energy_mev, float) / MEV_PER_THZ
        right.plot(np.asarray(full.dos, float) * MEV_PER_THZ, frequency, "k-", lw=1.0)
        right.fill_betweenx(frequency, 0, np.asarray(full.dos, float) * MEV_PER_THZ, color="0.85")
        right.set_xlim(left=0)
    right.set_xlabel("DOS (states/THz/cell)")
    right.axhline(0.0, color="k", lw=0.6)
    top = float(dispersion.frequencies_thz.max())
    low = min(0.0, float(dispersion.frequencies_thz.min()))
    left.set_ylim(low - 0.05 * (top - low) if low < 0 else 0.0, 1.05 * top)
    secondary = right.secondary_yaxis("right", functions=(lambda f: f * MEV_PER_THZ, lambda e: e / MEV_PER_THZ))
    secondary.set_ylabel("Energy (meV)")
    with warnings.catch_warnings():  # tight_layout cannot place the secondary axis and says so; it still fits
        warnings.simplefilter("ignore", UserWarning)
        return save_figure(fig, path)


#: The colour scale tops out at this percentile of the positive intensities and spans this many decades.
SATURATION_PERCENTILE = 99.0

COLOUR_DECADES = 3


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges of a monotonic row of centres, ending at the first and last centre (pieces of a path
    that meet at a break must not overlap)."""
    centres = np.asarray(centres, float)
    if len(centres) == 1:
        return np.array([centres[0], centres[0]])
    return np.concatenate([[centres[0]], 0.5 * (centres[1:] + centres[:-1]), [centres[-1]]])


def plot_single_crystal_map(sqe_map, path: str | Path, overlay_dispersion: bool = False) -> Path:
    """The map as a colour image: distance along the path on x (vertices as ticks, a vertical line at each,
    a heavier one where the path breaks), energy transfer on y, a log colour scale that saturates at a high
    percentile (the acoustic branches diverge at Bragg points). ``overlay_dispersion`` draws the branches
    over it as thin lines (imaginary ones below zero, dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    path = check_figure_path(path)
    m = sqe_map
    energy = np.asarray(m.energy_mev, float)
    step = float(energy[1] - energy[0]) if len(energy) > 1 else 1.0
    energy_edges = np.concatenate([energy - 0.5 * step, [energy[-1] + 0.5 * step]])
    values = np.where(np.asarray(m.intensity, float) > 0, m.intensity, np.nan)
    # the acoustic branches diverge at Bragg points (1/omega times k_B T / omega): a few pixels there would
    # set the scale and hide the rest, so it saturates at a high percentile instead of the maximum
    top = float(np.nanpercentile(values, SATURATION_PERCENTILE)) if np.isfinite(values).any() else 1.0
    norm = LogNorm(vmin=top * 10.0 ** -COLOUR_DECADES, vmax=top)
    cmap = plt.get_cmap("viridis")

    fig, ax = plt.subplots(figsize=(9.0, 5.0), dpi=130)
    ax.set_facecolor(cmap(0.0))  # no intensity reads as the bottom of the scale, not as a hole
    image = None
    distance = np.asarray(m.distance_inv_ang, float)
    for piece in m.pieces():
        x = distance[piece]
        if len(x) < 2 or x[-1] <= x[0]:
            continue
        image = ax.pcolormesh(_edges(x), energy_edges, values[piece].T, cmap=cmap, norm=norm, shading="flat",
                              rasterized=True)
        if overlay_dispersion:
            plot_branches(ax, x, np.asarray(m.frequencies_mev, float)[piece], color="white", lw=0.6, alpha=0.8)
    if image is not None:
        unit = m.details.get("units", {}).get("intensity", "mbarn/meV per atom")
        fig.colorbar(image, ax=ax, extend="max", label=f"S(Q,E) ({unit})")
    positions, names = m.ticks()
    for x in positions:
        ax.axvline(x, color="0.85", lw=0.5)
    for b in m.breaks:
        ax.axvline(distance[b], color="white", lw=2.0)
    ax.set_xticks(positions, names, fontsize=8)
    ax.set_xlim(distance[0], distance[-1])
    ax.set_ylim(energy_edges[0], energy_edges[-1])
    if energy[0] < 0 < energy[-1]:
        ax.axhline(0.0, color="0.6", lw=0.5)
    ax.set_xlabel("Q along the path (1/Å)")
    ax.set_ylabel("Energy transfer (meV)")
    ax.set_title(f"{m.name}: single-crystal S(Q,E) along {m.path_text or 'path'}\n"
                 f"T = {m.temperature_k:g} K, resolution {m.resolution_text()}", fontsize=9)
    return save_figure(fig, path)


# --- comparisons -------------------------------------------------------------------------------------
def plot_comparison(comparison: ComparisonResult, path: str | os.PathLike) -> Path:
    """The figure of a comparison of any kind (the one its ``kind`` names), written atomically: a spectrum
    (XAS, phonon DOS) over the measurement with the residual below, or measured | predicted | residual maps
    with the Q-integrated cut (S(|Q|,E))."""
    draw = _COMPARISON_FIGURES.get(comparison.kind)
    if draw is None:
        raise ValueError(f"no figure for a comparison of kind {comparison.kind!r}")
    return draw(comparison, path)


def _plot_spectrum_comparison(comparison: Comparison, path: str | os.PathLike) -> Path:
    """Overlay of measurement and processed prediction with the residual below; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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


def _plot_map_comparison(comparison: SqeComparison, path: str | os.PathLike) -> Path:
    """Measured | predicted | residual maps on one colour scale (residual on its own, centred), and beside
    them the Q-integrated cut over the compared region (measured, predicted, and its one-phonon part)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = check_figure_path(path)
    fig, axes = plt.subplots(1, 4, figsize=(17.0, 4.3), dpi=120, gridspec_kw={"width_ratios": [1, 1, 1, 1.1]})
    extent = [comparison.q_inv_ang[0], comparison.q_inv_ang[-1], comparison.energy_mev[0], comparison.energy_mev[-1]]
    top = float(np.nanpercentile(comparison.measured, 99))
    limit = float(np.nanpercentile(np.abs(comparison.residual), 99))
    panels = [(comparison.measured, "measured", "viridis", 0, top), (comparison.predicted, "predicted (scaled + background)",
              "viridis", 0, top), (comparison.residual, "measured - predicted", "RdBu_r", -limit, limit)]
    for ax, (values, title, cmap, low, high) in zip(axes, panels):
        image = ax.imshow(values.T, origin="lower", aspect="auto", extent=extent, cmap=cmap, vmin=low, vmax=high,
                          interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("|Q| (1/Å)")
        fig.colorbar(image, ax=ax, fraction=0.05)
    axes[0].set_ylabel("Energy transfer (meV)")
    cut, ax = comparison.cut, axes[3]
    energy = np.asarray(cut["energy_mev"], float)
    # no line across the elastic cut: a NaN after each gap wider than the energy step breaks it
    gaps = np.flatnonzero(np.diff(energy) > 1.5 * np.median(np.diff(energy))) + 1 if len(energy) > 2 else []

    def broken(values):
        return np.insert(energy, gaps, np.nan), np.insert(np.asarray(values, float), gaps, np.nan)

    ax.plot(energy, cut["measured"], "k.", ms=3, label="measured")
    ax.plot(*broken(cut["predicted"]), "C3-", lw=1.3, label=f"predicted, {comparison.details['phonon_order']}-phonon")
    ax.plot(*broken(cut["one_phonon"]), "C0--", lw=1, label="its one-phonon part")
    fit = comparison.energy_scale
    if fit is not None and "predicted_at_energy_scale" in cut:
        ax.plot(*broken(cut["predicted_at_energy_scale"]), "C2:", lw=1.3, label=f"predicted at s = {fit.scale:.3f}")
    ax.set_xlabel("Energy transfer (meV)")
    ax.set_ylabel("Q-integrated intensity over the compared region")
    ax.set_title("Q-integrated cut", fontsize=9)
    ax.legend(fontsize=7, frameon=False)
    s = comparison.scores
    title = (f"{comparison.name} vs {Path(comparison.measured_name).name}: Pearson {s['pearson']:.3f}, "
             f"cosine {s['cosine']:.3f}, reduced χ² {s['chi2_reduced']:.3g}")
    if fit is not None:
        title += (f"; fitted energy scale s = {fit.value_text()}: Pearson {fit.scores['pearson']:.3f}, "
                  f"reduced χ² {fit.scores['chi2_reduced']:.3g}")
    fig.suptitle(f"{title}\n{comparison.settings_line()}", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


#: The figure of each comparison kind (``ComparisonResult.kind``).
_COMPARISON_FIGURES = {"xas": _plot_spectrum_comparison, "phdos": _plot_spectrum_comparison,
                       "sqe": _plot_map_comparison}
