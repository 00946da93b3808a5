"""Writing and drawing single-crystal S(Q, E) maps (:class:`equispec.physics.single_crystal.SingleCrystalMap`).

Files are written as transactions (:mod:`equispec.io.files`): a failure leaves the old file, or none.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .dispersion import plot_branches
from .files import atomic_savez, atomic_write
from .spectra import check_figure_path, check_output, save_figure

__all__ = ["write_single_crystal_map", "plot_single_crystal_map"]

#: The colour scale tops out at this percentile of the positive intensities and spans this many decades.
SATURATION_PERCENTILE = 99.0
COLOUR_DECADES = 3


def write_single_crystal_map(sqe_map, path: str | Path) -> Path:
    """``.json``: the map's ``to_dict()`` (null for NaN). ``.npz``: its ``to_arrays()`` (``intensity`` (n_Q, n_E),
    ``energy_mev``, ``q_cart``, ``q_rlu``, ``distance_inv_ang``, ``labels``, ``frequencies_mev``, ``details`` as
    JSON text; loads without pickle). Written atomically; returns the path."""
    path = check_output(path, (".json", ".npz"))
    if path.suffix.lower() == ".json":
        text = json.dumps(sqe_map.to_dict(), indent=1) + "\n"
        atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        return path
    atomic_savez(path, sqe_map.to_arrays(), compressed=True)
    return path


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
