"""Phonon dispersion to CSV, JSON and a plot with the DOS beside it."""

from __future__ import annotations

import csv
import io
import json
import warnings
from pathlib import Path

import numpy as np

from .files import atomic_write
from .spectra import check_figure_path, check_output, save_figure
from .units import MEV_PER_THZ

__all__ = ["write_dispersion", "plot_dispersion", "plot_branches"]


def write_dispersion(dispersion, path: str | Path, prediction=None) -> Path:
    """``.csv``: one row per Q point, ``distance`` (1/Å), ``label`` (seekpath's name at the path's vertices,
    empty elsewhere), ``branch_1`` ... ``branch_N`` in THz, under ``#`` lines saying what made it. ``.json``: the
    prediction's record (DOS, physics) with a ``dispersion`` record (Q in r.l.u. and 1/Å, THz). Atomic."""
    path = check_output(path, (".csv", ".json"))
    if path.suffix.lower() == ".json":
        record = dict(prediction.to_dict() if prediction is not None else {"name": dispersion.name},
                      dispersion=dispersion.to_dict())
        text = json.dumps(record, indent=1) + "\n"
    else:
        buffer = io.StringIO()
        buffer.write(f"# {dispersion.name}: path {dispersion.path_text}; frequencies in THz (imaginary negative); "
                     f"distance in 1/Å\n")
        physics = getattr(prediction, "physics", None) or {}
        if physics:
            buffer.write(f"# {dispersion.name}: potential={physics.get('potential')} "
                         f"supercell={'x'.join(str(n) for n in physics.get('supercell', []))}\n")
        writer = csv.writer(buffer)
        branches = dispersion.frequencies_thz.shape[1]
        writer.writerow(["distance", "label", *(f"branch_{k + 1}" for k in range(branches))])
        for distance, label, row in zip(dispersion.distance_inv_ang, dispersion.labels, dispersion.frequencies_thz):
            writer.writerow([f"{distance:.8g}", label, *(f"{v:.6g}" for v in row)])
        text = buffer.getvalue()
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


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
