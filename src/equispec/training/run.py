"""``equispec train``: config -> graphs -> Lightning fit -> exported model directory."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
import yaml
from lightning.pytorch.callbacks import EMAWeightAveraging, LearningRateMonitor, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger

from ..data.datamodule import GraphDataModule
from ..data import keys
from ..data.datasets import (build_graphs, gamma_spectrum, pretrained_features, read_gamma_frequencies, read_ids,
                             read_phdos_csv)
from ..io.checkpoint import save_model_dir, sha256
from ..metrics import spectrum_metrics
from ..models.build import ModelHyperparameters, build_model
from ..errors import ConfigError
from .config import TrainConfig
from .lightning_module import SpectrumTask

__all__ = ["train"]

PHDOS_SOURCE = ("Petretto et al., Sci. Data 5, 180065 (2018), DFPT phonons; 51-bin processing of "
                "Chen et al., Adv. Sci. 8, 2004214 (2021)")


def _average_neighbors(graphs: list) -> float:
    return float(np.mean([g.edge_index.shape[1] / g.num_nodes for g in graphs]))


def train(config: TrainConfig) -> Path:
    """Train, keep the best epoch by valid loss and export it to ``{output_dir}/model``.

    Returns the exported model directory.
    """
    started = time.time()
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    L.seed_everything(config.trainer.seed, workers=True)

    data = config.data
    table = read_phdos_csv(data.csv)
    if table.dos is None:
        raise ConfigError("data.csv", f"{data.csv} has no phdos labels")
    train_ids = read_ids(data.train_ids)[: data.limit_train]
    valid_ids = read_ids(data.valid_ids)[: data.limit_valid]
    train_table = table.subset(train_ids, data.train_ids)
    valid_table = table.subset(valid_ids, data.valid_ids)

    hyper = ModelHyperparameters.from_dict({**config.model, "n_out": len(table.freq_cm1)}, "model")
    progress = config.trainer.progress_bar
    extra = {}
    if data.gamma_json:
        hyper.gamma_aux = True
        gamma = read_gamma_frequencies(data.gamma_json)
        missing = np.full(len(table.freq_cm1), np.nan)
        extra[keys.GAMMA_TARGET] = np.stack([
            gamma_spectrum(gamma[i], table.freq_cm1, config.optim.gamma_sigma_cm1) if i in gamma else missing
            for i in train_table.ids])
    train_features = valid_features = None
    if hyper.pretrained:
        features = pretrained_features(train_table.structures + valid_table.structures, hyper.pretrained,
                                       train_table.ids + valid_table.ids, data.feature_cache, progress)
        train_features, valid_features = features[: len(train_ids)], features[len(train_ids):]
    train_graphs = build_graphs(train_table.structures, hyper.cutoff_ang, train_table.ids, train_table.dos, progress,
                                extra, train_features)
    valid_graphs = build_graphs(valid_table.structures, hyper.cutoff_ang, valid_table.ids, valid_table.dos, progress,
                                pretrained=valid_features)
    if "avg_num_neighbors" not in config.model:
        hyper.avg_num_neighbors = round(_average_neighbors(train_graphs), 4)

    module = SpectrumTask(config.architecture, hyper.to_dict(), dataclasses.asdict(config.optim))
    if train_features is not None:
        module.model.backbone.embedding.set_pretrained_statistics(
            torch.as_tensor(np.concatenate(train_features), dtype=torch.get_default_dtype()))
    datamodule = GraphDataModule(train_graphs, valid_graphs, config.optim.batch_size, config.trainer.num_workers)
    best = ModelCheckpoint(dirpath=out / "checkpoints", filename="best", monitor="valid/loss", mode="min",
                           save_last=True)
    callbacks = [best, LearningRateMonitor(logging_interval="epoch")]
    if config.optim.ema_decay:
        callbacks.append(EMAWeightAveraging(decay=config.optim.ema_decay))
    if progress:
        callbacks.append(TQDMProgressBar(refresh_rate=10))
    trainer = L.Trainer(
        accelerator=config.trainer.accelerator, devices=config.trainer.devices, num_nodes=config.trainer.num_nodes,
        precision=config.trainer.precision, max_epochs=config.optim.max_epochs,
        gradient_clip_val=config.trainer.gradient_clip_val, logger=CSVLogger(out, name="logs", version=""),
        callbacks=callbacks, enable_progress_bar=progress, enable_model_summary=False, log_every_n_steps=10,
    )
    trainer.fit(module, datamodule=datamodule)
    if not trainer.is_global_zero:
        return out / "model"

    checkpoint = torch.load(best.best_model_path, map_location="cpu", weights_only=True)
    model = build_model(config.architecture, hyper)
    state = {k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")}
    model.load_state_dict(state, strict=True)
    model.eval()

    from ..api import PhononDosPredictor

    elements = sorted({el.symbol for s in train_table.structures for el in s.composition.elements})
    info = {"freq_cm1": table.freq_cm1.tolist(), "hyperparameters": hyper.to_dict(), "elements": elements}
    predictions, _ = PhononDosPredictor(model, info).predict_graphs(valid_graphs)
    valid_metrics = spectrum_metrics(table.freq_cm1, valid_table.dos, predictions)
    provenance = {
        "source": PHDOS_SOURCE,
        "data": {"csv": str(data.csv), "csv_sha256": sha256(data.csv),
                 "train_ids": str(data.train_ids), "train_ids_sha256": sha256(data.train_ids),
                 "valid_ids": str(data.valid_ids), "valid_ids_sha256": sha256(data.valid_ids),
                 "n_train": len(train_ids), "n_valid": len(valid_ids)},
        "config": config.to_dict(),
        "best_epoch": int(checkpoint.get("epoch", -1)),
        "train_seconds": round(time.time() - started, 1),
        "device": str(trainer.strategy.root_device),
    }
    directory = save_model_dir(model, out / "model", config.architecture, hyper.to_dict(), task=config.task,
                               freq_cm1=table.freq_cm1.tolist(), elements=elements, valid_metrics=valid_metrics,
                               provenance=provenance)
    (out / "valid_metrics.json").write_text(json.dumps(valid_metrics, indent=2) + "\n")
    return directory
