"""scripts/bench/bench.py --speed --quick end to end in a subprocess: cold starts, the physics mode beside sevenn's ASE
calculator + phonopy, and the shipped model from CIF files all measured, written as JSON and printed as Markdown."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_speed_quick_writes_three_sections_and_prints_the_table(tmp_path, phdos_csv):
    out = tmp_path / "speed.json"
    splits = phdos_csv.parent / "splits"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench" / "bench.py"), "--speed", "--quick", "--out", str(out),
         "--work-dir", str(tmp_path / "work"), "--data-csv", str(phdos_csv),
         "--train-ids", str(splits / "train_mp_ids.txt"), "--valid-ids", str(splits / "valid_mp_ids.txt")],
        capture_output=True, text=True, timeout=900, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["mode"] == "speed" and result["torch_threads"] >= 1

    cold = result["cold_start"]["commands"]
    assert set(cold) == {"import_torch", "help", "predict"}
    for entry in cold.values():
        assert len(entry["runs_s"]) == 2 and all(s > 0 for s in entry["runs_s"])
        assert entry["median_s"] > 0 and entry["ratio_to_floor"] > 0

    physics = result["physics"]["potentials"]
    assert list(physics) == ["7net-0"]
    p = physics["7net-0"]
    assert p["n"] + len(p["errors"]) == 2 and p["n"] >= 1
    assert p["median_s"] > 0 and p["p90_s"] >= p["median_s"] and p["plain_median_s"] > 0
    assert p["ratio_plain_to_equispec"] > 0
    for row in p["structures"]:
        assert row["equispec_s"] > 0 and row["plain_s"] > 0 and row["supercell_atoms"] > 0
        assert row["num_displacements"] > 0 and row["same_supercell"]
        # the same forces up to float32's last digits (two threads reorder sevenn's sums)
        assert row["largest_force_difference"] < 1e-4 and row["largest_fc_difference_relative"] < 1e-4
        assert 0 <= row["largest_dos_difference_relative"] < 0.05

    files = result["end_to_end"]
    assert files["n_structures"] == 20 and files["structures_per_s"] > 0 and files["median_s"] > 0
    assert sum(files["staged_share"].values()) == pytest.approx(1.0)

    assert result["markdown"] in done.stdout
    assert "| measurement | equispec | baseline | ratio |" in done.stdout
    assert "sevenn ASE calculator + phonopy" in done.stdout and "end to end from CIF files" in done.stdout
