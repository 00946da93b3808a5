import csv
import json

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from equispec.api import PhononDosPredictor
from equispec import keys
from equispec.data.graphs import structure_to_graph
from equispec.io.spectra import write_phdos
from equispec.models import build_model
from equispec.models.build import EnsembleModel
from equispec.plots import plot_phdos

HP = dict(cutoff_ang=4.5, num_layers=1, mul=4, lmax=1, embed_dim=8, num_radial=4, radial_hidden=8, readout_hidden=8,
          n_out=51, avg_num_neighbors=10.0)
FREQ_CM1 = list(range(0, 1001, 20))
MGO = Structure(Lattice.cubic(4.2), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
ROCKSALT = Structure(Lattice.cubic(4.6), ["Mg", "O"], [[0, 0, 0], [0.5, 0, 0]])


def predictor(model) -> PhononDosPredictor:
    return PhononDosPredictor(model.eval(), {"freq_cm1": FREQ_CM1, "elements": ["Mg", "O"], "hyperparameters": HP})


@pytest.fixture(scope="module")
def members():
    out = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        out.append(build_model("phdos_gate_v1", HP).eval())
    return out


def test_two_member_spread_is_half_the_difference(members):
    predictions = predictor(EnsembleModel(members)).predict([MGO, ROCKSALT], names=["a", "b"])
    for structure, p in zip([MGO, ROCKSALT], predictions):
        with torch.no_grad():
            a, b = (m(structure_to_graph(structure, 4.5))[keys.GRAPH_OUTPUT][0].numpy() for m in members)
        scale = ((a + b) / 2).max()  # the ensemble mean is re-normalised to a maximum of 1, and its spread with it
        np.testing.assert_allclose(p.dos, (a + b) / 2 / scale, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(p.dos_std, np.abs(a - b) / 2 / scale, rtol=1e-4, atol=1e-7)
        assert p.dos_std.shape == (51,) and np.any(p.dos_std > 0)


def test_single_model_has_no_spread_and_old_predict_graphs_callers_still_work(members, tmp_path):
    single = predictor(members[0])
    p = single.predict(MGO)[0]
    assert p.dos_std is None
    graphs = single.graphs([MGO], ["MgO"])
    totals, per_atom = single.predict_graphs(graphs)  # the two-value form used by training and evaluate
    assert totals.shape == (1, 51) and len(per_atom) == 1
    assert single.predict_graphs(graphs, with_std=True)[2] is None
    write_phdos([p], tmp_path / "single.csv")
    with (tmp_path / "single.csv").open() as handle:
        assert next(csv.reader(handle)) == ["freq_cm1", "MgO"]
    assert "dos_std" not in json.loads(write_phdos([p], tmp_path / "single.json").read_text())[0]


def test_csv_json_and_plot_carry_the_band(members, tmp_path):
    predictions = predictor(EnsembleModel(members)).predict([MGO, ROCKSALT], names=["a.cif", "b.cif"])
    with write_phdos(predictions, tmp_path / "out.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["freq_cm1", "a.cif", "a.cif:std", "b.cif", "b.cif:std"]
    np.testing.assert_allclose([float(r[2]) for r in rows[1:]], predictions[0].dos_std, rtol=1e-5, atol=1e-9)
    records = json.loads(write_phdos(predictions, tmp_path / "out.json").read_text())
    np.testing.assert_allclose(records[1]["dos_std"], predictions[1].dos_std)
    figure = plot_phdos(predictions[:1], tmp_path / "out.png")
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
