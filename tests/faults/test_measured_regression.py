"""Every measured file in ``../shared/data/measured`` reads, and scores against a fixed synthetic prediction,
as it did before the readers learnt to refuse (issue 23): the new checks must not reject or change a real file.

The baseline (``measured_baseline.json``) was written by this module with the readers of main at dd41b7c:
``EQUISPEC_WRITE_MEASURED_BASELINE=1 python -m pytest tests/faults/test_measured_regression.py``.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from equispec.analysis.phonon_compare import compare_phdos
from equispec.analysis.readers import read_measured_dos, read_measured_sqe, read_measured_xas
from equispec.analysis.xas_compare import compare_xas
from equispec.errors import InputError
from tests.conftest import SHARED_DATA

MEASURED = SHARED_DATA / "measured"
BASELINE = Path(__file__).with_name("measured_baseline.json")
#: Sums over a few hundred points in float64: anything above rounding is a changed reading.
RTOL = 1e-9


def _synthetic_xas(e0_ev: float, element, edge):
    """An edge step with a white line at ``e0_ev``: independent of the file, so that the score only moves
    if the reading does."""
    x = np.arange(e0_ev - 30.0, e0_ev + 80.0, 0.5)
    y = 1.0 / (1.0 + np.exp(-(x - e0_ev) / 1.5)) + 0.6 * np.exp(-0.5 * ((x - e0_ev - 6.0) / 3.0) ** 2)
    return SimpleNamespace(x=x, y=y, absorbing_element=element or "", edge=edge or "K", name="synthetic")


def _synthetic_dos():
    thz = np.linspace(0.0, 12.0, 241)
    return SimpleNamespace(frequencies=thz, densities=thz ** 2 * (thz < 7.5), name="synthetic")


def _scores(comparison) -> dict:
    return {key: float(value) for key, value in comparison.scores.items()}


def fingerprint(relative: str, e0_ev: float | None) -> dict:
    """What a reader makes of one file (or the error it gives), and its score where cheap."""
    path = MEASURED / relative
    try:
        if relative.startswith("phdos/") and relative.endswith(".npz"):
            m = read_measured_sqe(path)
            return {"n": int(m.intensity.size), "q": [float(m.q_inv_ang[0]), float(m.q_inv_ang[-1])],
                    "sum": float(np.nansum(m.intensity))}
        if relative.startswith("phdos/"):
            m = read_measured_dos(path)
            record = {"n": len(m.energy_mev), "e": [float(m.energy_mev[0]), float(m.energy_mev[-1])],
                      "sum": float(m.dos.sum()), "unit": m.unit,
                      "error_sum": None if m.error is None else float(m.error.sum())}
            record["scores"] = _scores(compare_phdos(_synthetic_dos(), m, neutron_weighting=False))
            return record
        m = read_measured_xas(path)
    except InputError as exc:
        return {"error": exc.problem}
    record = {"n": len(m.energy_ev), "e": [float(m.energy_ev[0]), float(m.energy_ev[-1])],
              "sum": float(np.sum(m.mu)), "column": m.source_column, "element": m.element, "edge": m.edge}
    if e0_ev is not None:
        try:
            record["scores"] = _scores(compare_xas(_synthetic_xas(e0_ev, m.element, m.edge), m, shift_ev=0.0))
        except InputError as exc:
            record["scores"] = {"error": exc.problem}
    return record


def measured_files() -> list[tuple[str, float | None]]:
    files = []
    with open(MEASURED / "xas" / "index.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            e0 = row.get("e0_larch") or row.get("e0_tabulated")
            files.append((f"xas/{row['file']}", float(e0) if e0 else None))
    with open(MEASURED / "phdos" / "index.csv", newline="") as handle:
        files += [(f"phdos/{row['file']}", None) for row in csv.DictReader(handle)]
    return files


def _close(now, before) -> bool:
    if isinstance(before, dict):
        return isinstance(now, dict) and now.keys() == before.keys() and all(_close(now[k], before[k]) for k in before)
    if isinstance(before, list):
        return isinstance(now, list) and len(now) == len(before) and all(map(_close, now, before))
    if isinstance(before, float):
        return isinstance(now, (int, float)) and (now == before or np.isclose(now, before, rtol=RTOL, atol=0) or
                                                  (np.isnan(before) and np.isnan(now)))
    return now == before


def test_every_measured_file_reads_and_scores_as_before():
    files = measured_files()
    assert len(files) == 299  # 295 XAS + 4 phonon files: none left out of the index
    now = {relative: fingerprint(relative, e0) for relative, e0 in files}
    if os.environ.get("EQUISPEC_WRITE_MEASURED_BASELINE"):
        BASELINE.write_text(json.dumps(now, indent=0, sort_keys=True) + "\n")
        pytest.skip("baseline written")
    before = json.loads(BASELINE.read_text())
    assert sorted(now) == sorted(before)
    changed = [name for name in before if not _close(now[name], before[name])]
    assert not changed, {name: (before[name], now[name]) for name in changed[:5]}
    assert sum("error" not in record for record in now.values()) >= 290  # the real files read
