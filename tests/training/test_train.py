"""A short but real training run on real data: the loss must go down and a loadable model must come out."""

import csv

import numpy as np
import pytest

from equispec.api import load_model
from equispec.errors import ConfigError
from equispec.training import load_config, train
from tests.conftest import PHDOS, ROOT


def test_short_training_run_learns_and_exports(tmp_path, phdos_csv):
    config = load_config(ROOT / "configs" / "phdos_scratch.yaml", [
        "data.limit_train=96", "data.limit_valid=24", "optim.max_epochs=10", "optim.batch_size=8",
        "optim.warmup_epochs=0", "optim.lr=0.005", "optim.ema_decay=null",
        "model.num_layers=2", "model.mul=8", "model.embed_dim=16", "model.readout_hidden=32",
        "trainer.progress_bar=false", "trainer.accelerator=cpu",
    ])
    config.data.csv = str(phdos_csv)
    config.data.train_ids = str(PHDOS / "splits" / "train_mp_ids.txt")
    config.data.valid_ids = str(PHDOS / "splits" / "valid_mp_ids.txt")
    config.output_dir = str(tmp_path / "run")
    directory = train(config)

    with open(tmp_path / "run" / "logs" / "metrics.csv") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("train/loss")]
    losses = [float(r["train/loss"]) for r in rows]
    assert len(losses) == 10
    assert losses[-1] < 0.75 * losses[0]

    predictor = load_model(directory)
    assert predictor.info.valid_metrics["n"] == 24
    assert predictor.info.raw["provenance"]["data"]["n_train"] == 96
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join((PHDOS / "splits" / "train_mp_ids.txt").read_text().split()[:96]))
    metrics, ids, predictions = predictor.evaluate(phdos_csv, ids_file)
    assert metrics["n"] == 96 and predictions.shape == (96, 51) and metrics["mse"] < losses[0]


def test_pretrained_features_are_cached_and_standardised(tmp_path, phdos_csv):
    config = load_config(ROOT / "configs" / "phdos.yaml", [
        "data.limit_train=16", "data.limit_valid=8", "optim.max_epochs=1", "optim.ema_decay=null",
        "trainer.progress_bar=false", "trainer.accelerator=cpu",
    ])
    config.data.csv = str(phdos_csv)
    config.data.train_ids = str(PHDOS / "splits" / "train_mp_ids.txt")
    config.data.valid_ids = str(PHDOS / "splits" / "valid_mp_ids.txt")
    config.data.feature_cache = str(tmp_path / "features.npz")
    config.output_dir = str(tmp_path / "run")
    predictor = load_model(train(config))
    with np.load(tmp_path / "features.npz", allow_pickle=False) as cache:
        assert len(cache.files) == 24 and all(n.startswith("sevennet-0/") and "/mp-" in n for n in cache.files)
        first = cache[cache.files[0]]
    assert first.shape[1] == 640
    embedding = predictor.model.backbone.embedding
    assert float(embedding.pretrained_std.min()) > 0 and float(embedding.pretrained_mean.abs().max()) > 0
    assert predictor.info.pretrained == "sevennet-0"


def test_config_errors(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("task: phdos\nmodel:\n  lmax: 1\n  width: 3\n")
    with pytest.raises(ConfigError, match="model.width: unknown key"):
        load_config(config)
    config.write_text("task: xrd\n")
    with pytest.raises(ConfigError, match="unknown task 'xrd'"):
        load_config(config)
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.write_text("a: [1, 2\n")
        load_config(config)


def test_short_xas_training_run_learns_and_exports(tmp_path, xas_cu_folder):
    config = load_config(ROOT / "configs" / "xas_cu_k.yaml", [
        "data.limit_train=40", "data.limit_valid=10", "optim.max_epochs=8", "optim.batch_size=8",
        "optim.warmup_epochs=0", "optim.lr=0.003", "optim.ema_decay=null", "model.pretrained=null",
        "model.mul=8", "model.embed_dim=32", "model.readout_hidden=64", "model.dropout=0.0",
        "trainer.progress_bar=false", "trainer.accelerator=cpu",
    ])
    config.data.folder = str(xas_cu_folder)
    config.output_dir = str(tmp_path / "run")
    directory = train(config)

    with open(tmp_path / "run" / "logs" / "metrics.csv") as handle:
        losses = [float(r["train/loss"]) for r in csv.DictReader(handle) if r.get("train/loss")]
    assert len(losses) == 8 and losses[-1] < 0.5 * losses[0]

    predictor = load_model(directory)
    assert predictor.element == "Cu" and predictor.edge == "K" and len(predictor.energy_ev) == 141
    metrics = predictor.info.valid_metrics
    assert set(metrics) == {"n", "mse", "median_mse", "baseline_median_mse", "eta"} and metrics["n"] >= 10
    assert metrics["eta"] > 0.5  # starts from the training mean (eta ~ 1), must not have diverged
