"""Predicted spectra to the formats the ecosystem reads: CSV, JSON and a PNG plot."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from .files import JsonLinesWriter as _JsonLinesWriter
from .files import atomic_savez, atomic_write, check_name_length, display_name
from .units import CM1_PER_MEV

__all__ = ["write_phdos", "header_comments", "plot_phdos", "summary_line", "write_xas", "plot_xas", "xas_summary_line",
           "JsonLinesWriter", "check_output", "check_figure_path", "save_figure", "write_ins", "plot_ins",
           "TRUNCATION_SHARE", "truncation_note"]


def _unique_labels(predictions) -> list[str]:
    labels, seen = [], {}
    for p in predictions:
        label = display_name(p.name)
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
    columns, comments = {}, []
    for label, p in zip(_unique_labels(predictions), predictions):
        columns[label] = p.dos
        if getattr(p, "dos_std", None) is not None:
            columns[f"{label}:std"] = p.dos_std
        comments += header_comments(label, p)
    return _write_table(path, "freq_cm1", predictions[0].freq_cm1, columns, predictions, comments)


def header_comments(label: str, prediction) -> list[str]:
    """``# LABEL: key=value ...`` lines for the top of a CSV: the calibrated reliability (fast mode) and how
    the force constants were made (physics and hybrid modes)."""
    lines = []
    reliability = getattr(prediction, "reliability", None)
    if reliability is not None:
        lines.append(f"# {label}: " + " ".join(f"{k}={_plain(v)}" for k, v in reliability.to_dict().items()))
    physics = getattr(prediction, "physics", None)
    if physics:
        flat = {}
        for key, value in physics.items():  # one level of records: potential_record.sevenn_version=...
            flat.update({f"{key}.{k}": v for k, v in value.items()} if isinstance(value, dict) else {key: value})
        lines.append(f"# {label}: mode={prediction.mode} " + " ".join(f"{k}={_plain(v)}" for k, v in flat.items()))
    return lines


def _plain(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return "x".join(str(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def check_output(path: str | Path, suffixes=(".csv", ".json", ".jsonl")) -> Path:
    """Fail before any work if an output path cannot be written."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        allowed = suffixes[0] if len(suffixes) == 1 else f"{', '.join(suffixes[:-1])} or {suffixes[-1]}"
        raise InputError(display_name(path), f"output must end in {allowed}")
    return _check_writable(path)


def _check_writable(path: Path) -> Path:
    """The folder exists and takes new files, and ``path`` is not a folder (outputs are renamed into place)."""
    check_name_length(path)
    if not path.parent.is_dir():
        raise InputError(display_name(path), "output folder does not exist")
    if path.is_dir():
        raise InputError(display_name(path), "is a folder, not a file name")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise InputError(display_name(path), "output folder is not writable")
    return path


def _table_path(path: str | Path) -> Path:
    return check_output(path, (".csv", ".json"))


class JsonLinesWriter(_JsonLinesWriter):
    __doc__ = _JsonLinesWriter.__doc__

    def __init__(self, path: str | Path, resume: bool = False):
        super().__init__(check_output(path, (".jsonl",)), resume)


def _write_table(path: str | Path, grid_name: str, grid, columns: dict, predictions, comments=()) -> Path:
    """CSV: ``comments`` (``#`` lines), the grid then one column per entry of ``columns``; JSON: each
    prediction's ``to_dict()``."""
    path = _table_path(path)
    if path.suffix.lower() == ".csv":
        buffer = io.StringIO()
        for line in comments:
            buffer.write(line + "\n")
        writer = csv.writer(buffer)
        writer.writerow([grid_name, *columns])
        for i, x in enumerate(grid):
            writer.writerow([f"{x:.10g}", *(f"{v[i]:.6g}" for v in columns.values())])
        text = buffer.getvalue()
    else:
        text = json.dumps([p.to_dict() for p in predictions], indent=1) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
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


def write_ins(predictions, neutron, path: str | Path) -> Path:
    """Neutron spectra of phonon predictions (``PhononDosPrediction.ins``). ``.json``: per structure the
    prediction's record (51-bin and full-range DOS) with an ``ins`` record (neutron-weighted DOS, S(|Q|,E)
    with null outside the kinematic range). ``.npz``: arrays ``energy_mev, dos, neutron_dos`` and, with a
    map, ``sqe`` (n_Q, n_E), ``sqe_q_inv_ang``, ``sqe_energy_mev``; prefixed ``NAME/`` when there is more
    than one structure, plus ``physics`` (a JSON string: potential, its version, supercell, displacement) in
    physics and hybrid modes. Written atomically."""
    path = check_output(path, (".json", ".npz"))
    if path.suffix.lower() == ".json":
        records = [dict(p.to_dict(), ins=n.to_dict()) for p, n in zip(predictions, neutron)]
        text = json.dumps(records, indent=1) + "\n"
        atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        return path
    arrays = {}
    labels = _unique_labels(predictions)
    for label, p, n in zip(labels, predictions, neutron):
        prefix = f"{label}/" if len(labels) > 1 else ""
        arrays.update({prefix + key: value for key, value in n.to_arrays().items()})
        if getattr(p, "physics", None):
            arrays[prefix + "physics"] = np.array(json.dumps(p.physics))  # a str array: loads without pickle
    atomic_savez(path, arrays, compressed=True)
    return path


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


#: Fast mode: a DOS still above this share of its maximum at the top of its grid has modes beyond it.
TRUNCATION_SHARE = 0.05


def truncation_note(prediction) -> str | None:
    """A one-line note when a prediction lives on the 51-bin label grid (fast mode) and its DOS at the top
    of that grid is above ``TRUNCATION_SHARE`` of its maximum: the material likely has modes above it."""
    if getattr(prediction, "full_range", None) is not None or not hasattr(prediction, "freq_cm1"):
        return None
    dos = np.asarray(prediction.dos, float)
    if dos.max() > 0 and dos[-1] > TRUNCATION_SHARE * dos.max():
        top = float(prediction.freq_cm1[-1])
        return (f"note: {prediction.name}: predicted DOS at {top:.0f} cm^-1 ({top / CM1_PER_MEV:.0f} meV) is "
                f"{100 * dos[-1] / dos.max():.0f}% of its maximum: modes likely above the fast model's grid; "
                "use --mode physics for the full range")
    return None


def summary_line(prediction) -> str:
    """One human line per structure: formula, atoms, peak and mean frequency (over the full range where the
    prediction has one: physics and hybrid modes)."""
    full = getattr(prediction, "full_range", None)
    if full is not None:
        f, g = full.energy_mev * CM1_PER_MEV, np.asarray(full.dos)
        top = f[g > 0.01 * g.max()].max(initial=0)
        mean = float((f * g).sum() / g.sum()) if g.sum() > 0 else float("nan")
        return (f"{prediction.name}: {prediction.structure.composition.reduced_formula}, {len(prediction.structure)} "
                f"atoms, peak {f[int(np.argmax(g))]:.0f} cm^-1, mean {mean:.0f} cm^-1, max {top:.0f} cm^-1 "
                f"({top / CM1_PER_MEV:.0f} meV)" + _imaginary_note(prediction))
    f, g = prediction.freq_cm1, np.asarray(prediction.dos)
    mean = float((f * g).sum() / g.sum()) if g.sum() > 0 else float("nan")
    return (f"{prediction.name}: {prediction.structure.composition.reduced_formula}, {len(prediction.structure)} atoms, "
            f"peak {f[int(np.argmax(g))]:.0f} cm^-1, mean {mean:.0f} cm^-1, max {f[g > 0.01].max(initial=0):.0f} cm^-1"
            + _imaginary_note(prediction) + _reliability_note(prediction))


def _reliability_note(prediction) -> str:
    reliability = getattr(prediction, "reliability", None)
    if reliability is None:
        return ""
    return (f"; expected MSE {reliability.expected_mse:.3f}, above {reliability.percentile:.0f}% of valid "
            "materials")


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
