"""``--device auto|cpu|cuda`` for predict and evaluate, and the featurizer on the predictor's device."""

import pytest
import torch

from equispec.cli.main import main
from equispec.devices import resolve_device
from equispec.errors import ModelError
from tests.conftest import EXAMPLES

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without a GPU")


def test_auto_takes_the_gpu_when_present():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")


@no_gpu
def test_cuda_without_a_gpu_is_a_model_error():
    with pytest.raises(ModelError, match="no CUDA GPU is visible"):
        resolve_device("cuda")


def test_unknown_device_name_is_a_model_error():
    with pytest.raises(ModelError, match="unknown device"):
        resolve_device("tpu7")


@no_gpu
@pytest.mark.parametrize("command", [["predict", str(EXAMPLES / "Si.cif")],
                                     ["evaluate", "--data", str(EXAMPLES / "Si.cif")]])
def test_cli_cuda_without_a_gpu_is_one_line_exit_2(command, capsys):
    assert main([*command, "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("equispec: error: cuda: no CUDA GPU")


def test_predictor_featurizes_on_its_device(monkeypatch):
    from equispec import load_model
    from equispec.nn.pretrained import feature_cache

    seen = []
    original = feature_cache.pretrained_features
    monkeypatch.setattr("equispec.inference.base.pretrained_features",
                        lambda *args, **kwargs: seen.append(kwargs.get("device")) or original(*args, **kwargs))
    predictor = load_model("phdos", device="cpu")
    predictor.predict(str(EXAMPLES / "Si.cif"))
    assert seen == ["cpu"]


def test_training_featurizes_on_the_trainers_device(monkeypatch):
    from types import SimpleNamespace

    from equispec.training.run import featurization_device

    def config(accelerator):
        return SimpleNamespace(trainer=SimpleNamespace(accelerator=accelerator))

    assert featurization_device(config("cpu")) == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setenv("LOCAL_RANK", "2")
    assert featurization_device(config("gpu")) == "cuda:2"
    assert featurization_device(config("auto")) == "cuda:2"
    assert featurization_device(config("cpu")) == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert featurization_device(config("auto")) == "cpu"
