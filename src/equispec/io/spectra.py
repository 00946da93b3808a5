"""Predicted spectra to the formats the ecosystem reads: CSV, JSON and a PNG plot."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from ..errors import InputError
from .files import atomic_write
from .units import CM1_PER_MEV

__all__ = ["write_phdos", "plot_phdos", "summary_line"]


def _unique_labels(predictions) -> list[str]:
    labels, seen = [], {}
    for p in predictions:
        label = p.name
        if label in seen:
            seen[label] += 1
            label = f"{label}#{seen[label]}"
        else:
            seen[label] = 0
        labels.append(label)
    return labels


def write_phdos(predictions, path: str | Path) -> Path:
    """``.csv``: column ``freq_cm1`` then one DOS column per structure. ``.json``: a list of records with
    grid, total and per-element partial DOS. Written atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise InputError(str(path), "output must end in .csv or .json")
    if not path.parent.is_dir():
        raise InputError(str(path), "output folder does not exist")
    if suffix == ".csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["freq_cm1", *_unique_labels(predictions)])
        for i, freq in enumerate(predictions[0].freq_cm1):
            writer.writerow([f"{freq:g}", *(f"{p.dos[i]:.6g}" for p in predictions)])
        text = buffer.getvalue()
    else:
        text = json.dumps([p.to_dict() for p in predictions], indent=1) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    return path


def plot_phdos(predictions, path: str | Path) -> Path:
    """Overlay of predicted DOS; for a single structure also its per-element partial DOS."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    if not path.parent.is_dir():
        raise InputError(str(path), "output folder does not exist")
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for label, p in zip(_unique_labels(predictions), predictions):
        ax.plot(p.freq_cm1, p.dos, lw=2, label=f"{label} ({p.structure.composition.reduced_formula})")
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
    fig.tight_layout()
    suffix = path.suffix.lstrip(".") or "png"
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=suffix))
    plt.close(fig)
    return path


def summary_line(prediction) -> str:
    """One human line per structure: formula, atoms, peak and mean frequency."""
    f, g = prediction.freq_cm1, np.asarray(prediction.dos)
    mean = float((f * g).sum() / g.sum()) if g.sum() > 0 else float("nan")
    return (f"{prediction.name}: {prediction.structure.composition.reduced_formula}, {len(prediction.structure)} atoms, "
            f"peak {f[int(np.argmax(g))]:.0f} cm^-1, mean {mean:.0f} cm^-1, max {f[g > 0.01].max(initial=0):.0f} cm^-1")
