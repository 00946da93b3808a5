"""Phonon dispersion to CSV and JSON (its figure is ``equispec.plots.plot_dispersion``)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from .files import atomic_write
from .spectra import check_output

__all__ = ["write_dispersion"]


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


