"""scripts/bench/bench.py's bookkeeping on known curves, and the reference model it trains: the tutorial's network
must give the same DOS for a rotated, inverted or repeated cell, or the baseline would be a broken one."""

import sys
import types

import numpy as np
import pytest
import torch
from ase import Atoms
from e3nn import o3
from torch_geometric.data import Batch

from tests.conftest import ROOT, TOLERANCE

sys.path.insert(0, str(ROOT / "scripts" / "bench"))
import bench  # noqa: E402
import common  # noqa: E402
import versus_reference  # noqa: E402
from _reference_e3nn import build_reference_network, mean_neighbors, predict, reference_graph  # noqa: E402


def epoch(n, elapsed_s, mse, train_s=10.0):
    return {"epoch": n, "elapsed_s": elapsed_s, "train_s": train_s, "valid_s": 1.0, "epoch_s": train_s + 1.0,
            "valid": {"n": 3, "mse": mse, "mae": 0.1, "r2": 0.5, "wasserstein_cm1": 20.0}}


CURVE = [epoch(1, 20.0, 0.040), epoch(2, 31.0, 0.026), epoch(3, 42.0, 0.024, train_s=12.0),
         epoch(4, 53.0, 0.021), epoch(5, 64.0, 0.022), epoch(6, 75.0, 0.023), epoch(7, 86.0, 0.022),
         epoch(8, 97.0, 0.025), epoch(9, 108.0, 0.030)]


def test_curve_summary_of_a_known_curve():
    s = versus_reference.curve_summary(CURVE, n_train=100)
    assert s["epochs_completed"] == 9 and s["best_epoch"] == 4 and s["time_to_best_s"] == 53.0
    assert s["best_valid"]["mse"] == 0.021
    assert s["epoch_to_threshold"] == 3 and s["time_to_threshold_s"] == 42.0
    assert s["train_seconds_per_epoch"] == 10.0 and s["train_structures_per_s"] == pytest.approx(10.0)
    assert s["seconds_per_epoch"] == 11.0
    assert s["improved_in_last_5_epochs"] is False  # best at epoch 4, five epochs without improvement after it
    assert versus_reference.curve_summary(CURVE[:6], n_train=100)["improved_in_last_5_epochs"] is True
    assert versus_reference.curve_summary([], n_train=100) == {"epochs_completed": 0}


def test_threshold_never_reached_and_best_so_far_at_a_time():
    assert versus_reference.first_below(CURVE, 0.01) is None
    assert versus_reference.curve_summary(CURVE, 100, threshold=0.01)["time_to_threshold_s"] is None
    assert versus_reference.best_so_far_at(CURVE, 19.9) is None
    assert versus_reference.best_so_far_at(CURVE, 31.0)["epoch"] == 2
    assert versus_reference.best_so_far_at(CURVE, 1e9)["epoch"] == 4  # the checkpoint kept, not the last epoch


def test_staged_seconds_goes_through_the_predictors_public_stages_in_order():
    calls = []

    def stage(name, value):
        def run(*args, **kwargs):
            calls.append(name)
            return value(*args) if callable(value) else value
        return run

    predictor = types.SimpleNamespace(check=stage("check", lambda path: (f"structure {path}", path)),
                                      features=stage("features", None), graphs=stage("graphs", ["graph"]),
                                      predict_graphs=stage("predict_graphs", None))
    stages = common.staged_seconds(predictor, ["a.cif", "b.cif"], batch_size=4)
    assert calls == ["check", "check", "features", "graphs", "predict_graphs"]
    assert set(stages) == {"read", "features", "graphs", "model"} and all(v >= 0 for v in stages.values())


def test_speed_quick_defaults_and_the_other_modes():
    args = bench.parse_args(["--speed", "--quick"])
    assert args.physics_n == 2 and args.potentials == ["7net-0"] and args.cold_start_repeats == 2
    assert args.inference_n == 20 and args.out == "runs/bench-speed.json"
    args = bench.parse_args(["--quick"])
    assert args.limit_train == 32 and args.max_epochs == 2 and args.out == "runs/bench.json"
    assert args.equispec_configs[0] == str(ROOT / "configs" / "phdos.yaml")
    assert args.cold_start_cif == str(ROOT / "data" / "examples" / "Si.cif")


def test_formatting():
    assert common.fmt_s(None) == "–" and common.fmt_s(0.25) == "250 ms" and common.fmt_s(46.8) == "46.8 s"
    assert common.fmt_s(1800) == "30.0 min"
    assert common.fmt_rate(587.2) == "587/s" and common.fmt_rate(2.5) == "2.50/s"
    metrics = {"mse": 0.02312, "mae": 0.081, "r2": -1.2e182, "wasserstein_cm1": 24.61}
    assert common.fmt_metrics(metrics) == "0.0231 / 0.0810 / -1.2e+182 / 24.6"
    # an equispec epoch record: MSE and MAE from the training's logs only
    assert common.fmt_metrics({"mse": 0.02312, "mae": 0.081}) == "0.0231 / 0.0810 / – / –"
    table = common.markdown_table(["", "a", "b"], [["x", 1, 2]]).splitlines()
    assert table == ["|  | a | b |", "|---|---|---|", "| x | 1 | 2 |"]


@pytest.fixture
def crystal():
    """A low-symmetry ternary so that no invariance holds by accident."""
    rng = np.random.default_rng(1)
    cell = np.array([[4.1, 0.0, 0.0], [0.7, 4.5, 0.0], [-0.4, 0.9, 5.2]])
    return Atoms(["Sr", "Ti", "O", "O", "O"], scaled_positions=rng.uniform(0, 1, (5, 3)), cell=cell, pbc=True)


@pytest.fixture
def reference_model(float64):
    torch.manual_seed(0)
    return build_reference_network(num_neighbors=10.0, mul=4, embed_dim=8, radial_neurons=16).eval()


def test_reference_graph_follows_the_tutorial(crystal, float64):
    graph = reference_graph(crystal, target=np.arange(51.0))
    centre, neighbour = graph.edge_index
    self_edges = centre == neighbour
    assert self_edges.sum() >= len(crystal)  # each atom is its own neighbour at distance 0 (and maybe its images)
    assert graph.edge_vec.norm(dim=1).max() < 4.0
    assert torch.allclose(graph.x.sum(dim=1), torch.as_tensor(crystal.get_masses()))  # mass-weighted one-hot
    assert torch.equal(graph.z.argmax(dim=1) + 1, torch.as_tensor(crystal.numbers))
    assert graph.phdos.shape == (1, 51)
    assert mean_neighbors([graph]) == graph.edge_index.shape[1] / len(crystal)


def test_reference_model_is_invariant_to_rotation_inversion_and_supercell(crystal, reference_model):
    dos = predict(reference_model, [reference_graph(crystal)], 1)[0]
    assert dos.shape == (51,) and dos.max() == pytest.approx(1.0) and dos.min() >= 0
    rotation = -o3.rand_matrix().numpy()  # a random rotation times inversion
    turned = Atoms(crystal.numbers, positions=crystal.positions @ rotation.T, cell=crystal.cell.array @ rotation.T,
                   pbc=True)
    tolerance = TOLERANCE[torch.float64]
    assert np.abs(predict(reference_model, [reference_graph(turned)], 1)[0] - dos).max() < tolerance
    assert np.abs(predict(reference_model, [reference_graph(crystal.repeat((2, 1, 1)))], 1)[0] - dos).max() < tolerance


def test_reference_model_batches_like_one_by_one(crystal, reference_model):
    graphs = [reference_graph(crystal), reference_graph(crystal.repeat((1, 2, 1))), reference_graph(crystal[:2])]
    batched = predict(reference_model, graphs, 3)
    single = np.concatenate([predict(reference_model, [g], 1) for g in graphs])
    assert np.abs(batched - single).max() < TOLERANCE[torch.float64]
    with torch.no_grad():  # a graph without a batch vector is one structure
        alone = reference_model(graphs[0]).numpy()
    assert np.abs(alone - single[:1]).max() < TOLERANCE[torch.float64]
    assert Batch.from_data_list(graphs).edge_vec.shape[0] == sum(g.edge_vec.shape[0] for g in graphs)
