"""``equispec predict|evaluate --model xas-cu-k`` as a beamline user meets it."""

import csv
import json

import numpy as np
import pytest
from pymatgen.analysis.xas.spectrum import XAS

import equispec
from tests.cli.test_cli import run
from tests.conftest import EXAMPLES


def test_predict_writes_site_and_average_spectra(tmp_path):
    result = run("predict", EXAMPLES / "Cu2O.cif", EXAMPLES / "Cu.cif", "--model", "xas-cu-k",
                 "-o", tmp_path / "xas.csv", "--plot", tmp_path / "xas.png")
    assert result.returncode == 0, result.stderr
    assert "Cu2O.cif: Cu2O, 4 Cu absorbers in 1 inequivalent sites" in result.stdout
    with open(tmp_path / "xas.csv") as handle:
        rows = list(csv.reader(handle))
    cu2o, cu = str(EXAMPLES / "Cu2O.cif"), str(EXAMPLES / "Cu.cif")
    assert rows[0][0] == "energy_ev" and rows[0][1:] == [cu2o, f"{cu2o}:site{rows[0][2].split('site')[1]}",
                                                         cu, f"{cu}:site0"]
    table = np.array(rows[1:], dtype=float)
    np.testing.assert_allclose(table[:, 0], np.linspace(8983.173, 9018.173, 141), atol=1e-6)
    np.testing.assert_allclose(table[:, 1], table[:, 2], rtol=1e-5)  # one orbit: average = its site
    assert (tmp_path / "xas.png").read_bytes()[:4] == b"\x89PNG"

    assert run("predict", EXAMPLES / "Cu2O.cif", "--model", "xas-cu-k", "-o", tmp_path / "xas.json").returncode == 0
    record = json.loads((tmp_path / "xas.json").read_text())[0]
    assert record["element"] == "Cu" and record["edge"] == "K" and record["sites"][0]["multiplicity"] == 4


def test_structure_without_the_absorber_is_one_line_exit_2(tmp_path):
    result = run("predict", EXAMPLES / "Si.cif", "--model", "xas-cu-k", "-o", tmp_path / "x.csv")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"equispec: error: {EXAMPLES / 'Si.cif'}: has no Cu atom to absorb (Si)"]
    assert not (tmp_path / "x.csv").exists()


def test_api_returns_pymatgen_xas_per_site_and_average():
    prediction = equispec.load_model("xas-cu-k").predict(EXAMPLES / "Cu2O.cif")[0]
    assert all(isinstance(x, XAS) for x in [*prediction.site_spectra, prediction.average])
    assert str(prediction.average.absorbing_element) == "Cu" and prediction.average.edge == "K"
    assert prediction.site_spectra[0].absorbing_index == prediction.site_indices[0]
    assert prediction.multiplicities == [4]
    assert np.all(np.diff(prediction.average.x) > 0) and prediction.average.y.max() > 0


def test_evaluate_val_json_meets_the_target(xas_cu_folder):
    # featurizes the 394 val materials with SevenNet-0 (about 2 min on 2 cores)
    result = run("evaluate", "--model", "xas-cu-k", "--data", xas_cu_folder, "--split", "val", "--json", timeout=1200)
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert set(metrics) == {"n", "mse", "median_mse", "baseline_median_mse", "eta"}
    assert metrics["n"] == 416 and metrics["eta"] >= 6.0


@pytest.mark.parametrize("args, message", [
    (["--split", "test"], "split 'test' has withheld (NaN) spectra"),
    (["--split", "nope"], "no spectra in split 'nope'"),
    (["--ids", "ids.txt"], "select spectra with --split"),
])
def test_evaluate_errors(xas_cu_folder, args, message):
    result = run("evaluate", "--model", "xas-cu-k", "--data", xas_cu_folder, *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
