"""Predicted spectra to the formats the ecosystem reads: CSV, JSON, NPZ (their figures are ``equispec.plots``)."""

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

__all__ = ["write_phdos", "header_comments", "summary_line", "write_xas", "xas_summary_line", "JsonLinesWriter",
           "check_output", "write_ins", "TRUNCATION_SHARE", "truncation_note", "reliability_flag"]


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


def reliability_flag(prediction) -> str | None:
    """One line when the calibrated expected error is beyond the valid split's 90th percentile, else None."""
    reliability = getattr(prediction, "reliability", None)
    return None if reliability is None else reliability.note(prediction.name)


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
