import json

import pytest
import torch

from equispec import keys
from equispec.data.graphs import structure_to_graph
from equispec.data.structures import to_structure
from equispec.errors import ModelError
from equispec.models.serialization import load_model_dir, save_model_dir
from equispec.models import build_model
from tests.conftest import EXAMPLES

HP = dict(cutoff_ang=4.5, num_layers=1, mul=4, lmax=1, embed_dim=8, num_radial=4, radial_hidden=8, readout_hidden=8,
          n_out=51, avg_num_neighbors=10.0)
GRID = [10.0 * k for k in range(51)]


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(3)
    model = build_model("phdos_gate_v1", HP).eval()
    directory = save_model_dir(model, tmp_path / "m", "phdos_gate_v1", HP, freq_cm1=list(range(0, 1001, 20)),
                               elements=["Si"])
    return model, directory


def test_round_trip_gives_identical_outputs(saved):
    model, directory = saved
    loaded, info = load_model_dir(directory)
    graph = structure_to_graph(to_structure(EXAMPLES / "Si.cif")[0], 4.5)
    with torch.no_grad():
        assert torch.equal(model(graph)[keys.GRAPH_OUTPUT], loaded(graph)[keys.GRAPH_OUTPUT])
    assert info["architecture"] == "phdos_gate_v1" and info["hyperparameters"] == HP
    assert (directory / "model.safetensors").read_bytes()[:8] != b"\x80\x02\x8a\nl\xfc\x9cF"  # not a pickle


def test_newer_format_is_refused(saved):
    _, directory = saved
    info = json.loads((directory / "model.json").read_text())
    info["format_version"] = 99
    (directory / "model.json").write_text(json.dumps(info))
    with pytest.raises(ModelError, match="newer than this equispec supports"):
        load_model_dir(directory)


def test_weights_that_do_not_fit_are_refused(saved):
    _, directory = saved
    info = json.loads((directory / "model.json").read_text())
    info["hyperparameters"]["mul"] = 8
    (directory / "model.json").write_text(json.dumps(info))
    with pytest.raises(ModelError, match="weights do not fit"):
        load_model_dir(directory)


def test_not_a_model_directory(tmp_path):
    with pytest.raises(ModelError, match="not a model directory"):
        load_model_dir(tmp_path)


def test_ensemble_averages_members_and_round_trips(tmp_path):
    from pymatgen.core import Lattice, Structure

    graph = structure_to_graph(Structure(Lattice.cubic(4.2), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]), 4.5)
    dirs, outputs = [], []
    for seed in (1, 2, 3):
        torch.manual_seed(seed)
        member = build_model("phdos_gate_v1", HP).eval()
        dirs.append(save_model_dir(member, tmp_path / f"m{seed}", "phdos_gate_v1", HP, task="phdos",
                                   freq_cm1=list(range(0, 1001, 20)), elements=["Mg", "O", "Si"][: seed + 1]))
        with torch.no_grad():
            outputs.append(member(graph)[keys.GRAPH_OUTPUT])
    from equispec.models.serialization import combine_model_dirs

    ensemble, info = load_model_dir(combine_model_dirs(dirs, tmp_path / "ens"))
    assert info["architecture"] == "ensemble" and info["elements"] == ["Mg", "O"] and len(info["members"]) == 3
    with torch.no_grad():
        out = ensemble(graph)
    mean = torch.stack(outputs).mean(0)
    torch.testing.assert_close(out[keys.GRAPH_OUTPUT], mean / mean.max())
    torch.testing.assert_close(out[keys.GRAPH_OUTPUT_STD], torch.stack(outputs).std(0, unbiased=False) / mean.max())
    torch.testing.assert_close(out[keys.NODE_OUTPUT].sum(0), out[keys.GRAPH_OUTPUT][0])


def test_ensemble_members_must_read_the_same_graph(tmp_path):
    from equispec.models.serialization import combine_model_dirs

    a = save_model_dir(build_model("phdos_gate_v1", HP), tmp_path / "a", "phdos_gate_v1", HP, freq_cm1=GRID)
    wider = {**HP, "mul": 8}
    b = save_model_dir(build_model("phdos_gate_v1", wider), tmp_path / "b", "phdos_gate_v1", wider, freq_cm1=GRID)
    assert len(load_model_dir(combine_model_dirs([a, b], tmp_path / "ab"))[1]["members"]) == 2
    longer = {**HP, "cutoff_ang": 5.0}
    c = save_model_dir(build_model("phdos_gate_v1", longer), tmp_path / "c", "phdos_gate_v1", longer, freq_cm1=GRID)
    with pytest.raises(ModelError, match="cutoff_ang differs"):
        combine_model_dirs([a, c], tmp_path / "ac")


def test_model_info_takes_its_task_from_the_file_or_the_architecture(saved):
    """``task`` decides the predictor; files written before it was stored get the architecture's task."""
    from equispec.inference import PhononDosPredictor, predictor_for
    from equispec.models.model_info import ModelInfo

    model, directory = saved
    _, info = load_model_dir(directory)
    assert "task" not in info
    typed = ModelInfo.from_dict(info)
    assert typed.task == "phdos" and typed.grid[-1] == 1000 and typed.elements == ("Si",) and typed.n_members == 1
    assert typed.cutoff_ang == 4.5 and typed.pretrained is None and typed.hybrid is None
    predictor = predictor_for(model, typed)
    assert isinstance(predictor, PhononDosPredictor) and predictor.task == "phdos"


def test_a_task_that_contradicts_the_grid_is_refused(saved):
    _, directory = saved
    info = json.loads((directory / "model.json").read_text())
    info["task"] = "xas"
    (directory / "model.json").write_text(json.dumps(info))
    with pytest.raises(ModelError, match="task xas needs the energy_ev grid, not freq_cm1"):
        load_model_dir(directory)


@pytest.mark.parametrize("key, off, on", [("num_species_features", 0, 4), ("atom_sum_rule", False, True),
                                          ("gamma_aux", False, True)])
def test_retired_options_load_when_off_and_are_refused_when_on(saved, key, off, on):
    """Options removed because they did not help: older model.json files that have them off still load."""
    _, directory = saved
    info = json.loads((directory / "model.json").read_text())
    info["hyperparameters"][key] = off
    (directory / "model.json").write_text(json.dumps(info))
    load_model_dir(directory)
    info["hyperparameters"][key] = on
    (directory / "model.json").write_text(json.dumps(info))
    with pytest.raises(ModelError, match=f"{key}: this option was removed"):
        load_model_dir(directory)
