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

__all__ = ["write_phdos", "plot_phdos", "summary_line", "write_xas", "plot_xas", "xas_summary_line",
           "JsonLinesWriter", "check_output"]


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
    """``.csv``: column ``freq_cm1`` then one DOS column per structure, each followed by its ensemble spread
    ``NAME:std`` where the model is an ensemble. ``.json``: a list of records with grid, total DOS, ``dos_std``
    (ensembles only) and per-element partial DOS. Written atomically."""
    columns = {}
    for label, p in zip(_unique_labels(predictions), predictions):
        columns[label] = p.dos
        if getattr(p, "dos_std", None) is not None:
            columns[f"{label}:std"] = p.dos_std
    return _write_table(path, "freq_cm1", predictions[0].freq_cm1, columns, predictions)


def check_output(path: str | Path, suffixes=(".csv", ".json", ".jsonl")) -> Path:
    """Fail before any work if an output path cannot be written."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        allowed = suffixes[0] if len(suffixes) == 1 else f"{', '.join(suffixes[:-1])} or {suffixes[-1]}"
        raise InputError(str(path), f"output must end in {allowed}")
    if not path.parent.is_dir():
        raise InputError(str(path), "output folder does not exist")
    return path


def _table_path(path: str | Path) -> Path:
    return check_output(path, (".csv", ".json"))


class JsonLinesWriter:
    """Streams predictions as JSON Lines, one complete record per line, while a long run goes on.

    Lines go to ``OUT.jsonl.part`` (flushed after each record, so ``tail -f`` works) and the file is
    renamed to ``OUT.jsonl`` when the run ends; an interrupted run leaves the ``.part`` file with every
    finished record and never touches an existing ``OUT.jsonl``.
    """

    def __init__(self, path: str | Path):
        self.path = check_output(path, (".jsonl",))
        self.partial = self.path.with_name(self.path.name + ".part")
        self.count = 0

    def __enter__(self) -> "JsonLinesWriter":
        self._handle = self.partial.open("w")
        return self

    def write(self, prediction) -> None:
        self._handle.write(json.dumps(prediction.to_dict()) + "\n")
        self._handle.flush()
        self.count += 1

    def __exit__(self, kind, value, traceback) -> None:
        self._handle.close()
        if kind is None:
            self.partial.replace(self.path)


def _write_table(path: str | Path, grid_name: str, grid, columns: dict, predictions) -> Path:
    """CSV: the grid then one column per entry of ``columns``; JSON: each prediction's ``to_dict()``."""
    path = _table_path(path)
    if path.suffix.lower() == ".csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([grid_name, *columns])
        for i, x in enumerate(grid):
            writer.writerow([f"{x:.10g}", *(f"{v[i]:.6g}" for v in columns.values())])
        text = buffer.getvalue()
    else:
        text = json.dumps([p.to_dict() for p in predictions], indent=1) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    return path


def write_xas(predictions, path: str | Path) -> Path:
    """``.csv``: column ``energy_ev``, then per structure its site average (``NAME``) and each
    inequivalent site (``NAME:site<i>``, multiplicity in the JSON). ``.json``: one record per structure."""
    columns = {}
    for label, p in zip(_unique_labels(predictions), predictions):
        columns[label] = p.mu
        for index, mu in zip(p.site_indices, p.site_mu):
            columns[f"{label}:site{index}"] = mu
    return _write_table(path, "energy_ev", predictions[0].energy_ev, columns, predictions)


def plot_phdos(predictions, path: str | Path) -> Path:
    """Overlay of predicted DOS, shaded ±2σ of the ensemble spread where there is one; for a single structure
    also its per-element partial DOS."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = _figure_path(path)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for label, p in zip(_unique_labels(predictions), predictions):
        (line,) = ax.plot(p.freq_cm1, p.dos, lw=2, label=f"{label} ({p.structure.composition.reduced_formula})")
        if getattr(p, "dos_std", None) is not None:
            ax.fill_between(p.freq_cm1, np.clip(p.dos - 2 * p.dos_std, 0, None), p.dos + 2 * p.dos_std,
                            color=line.get_color(), alpha=0.25, lw=0, label=f"{label} ±2σ ensemble")
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
    return _save_figure(fig, path)


def _figure_path(path: str | Path) -> Path:
    path = Path(path)
    if not path.parent.is_dir():
        raise InputError(str(path), "output folder does not exist")
    return path


def _save_figure(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    suffix = path.suffix.lstrip(".") or "png"
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=suffix))
    plt.close(fig)
    return path


def plot_xas(predictions, path: str | Path) -> Path:
    """Site-averaged spectra; for a single structure also each inequivalent site (thin, with multiplicity)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = _figure_path(path)
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
    return _save_figure(fig, path)


def summary_line(prediction) -> str:
    """One human line per structure: formula, atoms, peak and mean frequency."""
    f, g = prediction.freq_cm1, np.asarray(prediction.dos)
    mean = float((f * g).sum() / g.sum()) if g.sum() > 0 else float("nan")
    return (f"{prediction.name}: {prediction.structure.composition.reduced_formula}, {len(prediction.structure)} atoms, "
            f"peak {f[int(np.argmax(g))]:.0f} cm^-1, mean {mean:.0f} cm^-1, max {f[g > 0.01].max(initial=0):.0f} cm^-1"
            + _imaginary_note(prediction))


def _imaginary_note(prediction) -> str:
    fraction = getattr(prediction, "imaginary_fraction", None)
    if not fraction:
        return ""
    return f"; {100 * fraction:.1f}% of modes imaginary (unstable for the potential; left out of the DOS)"


def xas_summary_line(prediction) -> str:
    """One human line per structure: formula, absorbers, white-line energy."""
    e, mu = prediction.energy_ev, prediction.mu
    return (f"{prediction.name}: {prediction.structure.composition.reduced_formula}, "
            f"{sum(prediction.multiplicities)} {prediction.element} absorbers in {len(prediction.site_indices)} "
            f"inequivalent sites, {prediction.edge}-edge white line at {e[int(np.argmax(mu))]:.2f} eV")
