"""``equispec train``: config -> graphs -> Lightning fit -> exported model directory."""

from __future__ import annotations

import dataclasses
import json
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import lightning as L
import numpy as np
import torch
import yaml
from lightning.pytorch.callbacks import EMAWeightAveraging, LearningRateMonitor, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.plugins.environments import SLURMEnvironment

from .. import keys
from ..data.datamodule import GraphDataModule
from ..data.datasets import build_graphs, read_ids, read_phdos_csv
from ..nn.pretrained import pretrained_features
from ..data.graph_store import cache_key, cached_graphs
from ..nn.pretrained import first_trainable_block
from ..data.xas import read_xas_dataset
from ..data.xas_graphs import dataset_graphs
from ..errors import ConfigError
from ..inference import PhononDosPredictor, XasPredictor
from ..io.files import sha256
from ..metrics import spectrum_metrics, xas_metrics
from ..models.build import ModelHyperparameters, build_model
from ..models.serialization import save_model_dir
from .config import TrainConfig, check_data_paths
from .lightning_module import SpectrumTask

__all__ = ["train"]

PHDOS_SOURCE = ("Petretto et al., Sci. Data 5, 180065 (2018), DFPT phonons; 51-bin processing of "
                "Chen et al., Adv. Sci. 8, 2004214 (2021)")
XAS_SOURCE = ("Kharel et al., arXiv:2409.19552 (OmniXAS), FEFF9 site spectra computed with Lightshow "
              "(Carbone et al., J. Open Source Softw. 8, 5182 (2023))")


def featurization_device(config: TrainConfig) -> str:
    """Where the pretrained featurizer runs during data preparation: on the trainer's device, i.e. this
    process's GPU when the accelerator is ``gpu``/``cuda``/``auto`` and torch sees one (``LOCAL_RANK`` picks it
    under DDP), else the CPU."""
    import os

    accelerator = str(config.trainer.accelerator).lower()
    if accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', 0)) % torch.cuda.device_count()}"
    return "cpu"


def _backbone_record(hyper: ModelHyperparameters) -> dict | None:
    """``model.json``'s ``pretrained_backbone`` (sevenn version, checkpoint sha256), also part of graph-cache keys."""
    from ..nn.pretrained import pretrained_record

    return pretrained_record(hyper.pretrained) if hyper.pretrained else None


def _fine_tuning_recipe(hyper: ModelHyperparameters) -> dict:
    """Graph-cache key part of fine-tuning (the graphs then hold block inputs); empty for frozen runs, so that
    their stores keep their keys."""
    first = first_trainable_block(hyper.to_dict())
    return {} if first is None else {"first_trainable_block": first}


def _average_neighbors(graphs: list) -> float:
    return float(np.mean([g.edge_index.shape[1] / g.num_nodes for g in graphs]))


@dataclass
class PreparedData:
    """What a task hands the common training loop."""

    train_graphs: list
    valid_graphs: list
    output_offset: np.ndarray | None  # a head's starting point (mean training spectrum), where it has one
    n_out: int
    metadata: dict  # extra model.json fields (grid, elements, ...)
    provenance: dict  # data files and their hashes
    score: Callable  # (model, hyperparameters, metadata) -> valid metrics dict


def _phdos_data(config: TrainConfig, hyper: ModelHyperparameters) -> PreparedData:
    data, progress = config.data, config.trainer.progress_bar
    table = read_phdos_csv(data.csv)
    if table.dos is None:
        raise ConfigError("data.csv", f"{data.csv} has no phdos labels")
    train_ids = read_ids(data.train_ids)[: data.limit_train]
    valid_ids = read_ids(data.valid_ids)[: data.limit_valid]
    train_table = table.subset(train_ids, data.train_ids)
    valid_table = table.subset(valid_ids, data.valid_ids)
    recipe = {"task": "phdos", "csv_sha256": sha256(data.csv), "cutoff_ang": hyper.cutoff_ang,
              "pretrained": hyper.pretrained, "pretrained_backbone": _backbone_record(hyper),
              **_fine_tuning_recipe(hyper)}

    def graphs_of(part):
        def build():
            features = None
            if hyper.pretrained:
                features = pretrained_features(part.structures, hyper.pretrained, part.ids, data.feature_cache,
                                               progress, featurization_device(config),
                                               first_trainable_block=first_trainable_block(hyper.to_dict()))
            return build_graphs(part.structures, hyper.cutoff_ang, part.ids, part.dos, progress,
                                pretrained=features), part.ids
        return build

    train_graphs = _cached(data, "phdos-train", dict(recipe, ids=train_ids), graphs_of(train_table))
    valid_graphs = _cached(data, "phdos-valid", dict(recipe, ids=valid_ids), graphs_of(valid_table))
    elements = sorted({el.symbol for s in train_table.structures for el in s.composition.elements})

    def score(model, hyperparameters: dict, metadata: dict) -> dict:
        predictions, _ = PhononDosPredictor(model, {**metadata, "hyperparameters": hyperparameters}).predict_graphs(
            valid_graphs)
        return spectrum_metrics(table.freq_cm1, valid_table.dos, predictions)

    provenance = {"source": PHDOS_SOURCE, "csv": str(data.csv), "csv_sha256": sha256(data.csv),
                  "train_ids": str(data.train_ids), "train_ids_sha256": sha256(data.train_ids),
                  "valid_ids": str(data.valid_ids), "valid_ids_sha256": sha256(data.valid_ids),
                  "n_train": len(train_ids), "n_valid": len(valid_ids)}
    return PreparedData(train_graphs, valid_graphs, None, len(table.freq_cm1),
                        {"freq_cm1": table.freq_cm1.tolist(), "elements": elements}, provenance, score)


def _xas_data(config: TrainConfig, hyper: ModelHyperparameters) -> PreparedData:
    data, progress = config.data, config.trainer.progress_bar
    dataset = read_xas_dataset(data.folder)
    train_set = _first_materials(dataset.split_rows(data.train_split), data.limit_train)
    valid_set = _first_materials(dataset.split_rows(data.valid_split), data.limit_valid)
    for part, split in ((train_set, data.train_split), (valid_set, data.valid_split)):
        if np.isnan(part.spectrum).any():
            raise ConfigError("data.folder", f"split {split!r} of {data.folder} has withheld (NaN) spectra")
    absorbers = sorted(set(zip(train_set.absorbing_element, train_set.edge)))
    recipe = {"task": "xas", "folder": _folder_fingerprint(data.folder) if data.graph_cache else data.folder,
              "cutoff_ang": hyper.cutoff_ang,
              "pretrained": hyper.pretrained, "pretrained_backbone": _backbone_record(hyper),
              **_fine_tuning_recipe(hyper)}

    def graphs_of(part):
        def build():
            def featurize(structures, names):
                return pretrained_features(structures, hyper.pretrained, names, data.feature_cache, progress,
                                           featurization_device(config),
                                           first_trainable_block=first_trainable_block(hyper.to_dict()))

            graphs = dataset_graphs(part, hyper.cutoff_ang, featurize if hyper.pretrained else None, progress)
            return graphs, [g[keys.STRUCTURE_ID] for g in graphs]
        return build

    train_graphs = _cached(data, "xas-train", dict(recipe, materials=train_set.materials()), graphs_of(train_set))
    valid_graphs = _cached(data, "xas-valid", dict(recipe, materials=valid_set.materials()), graphs_of(valid_set))
    elements = sorted({el.symbol for m in train_set.materials() for el in train_set.structure(m).composition.elements})
    train_mean = train_set.spectrum.mean(axis=0)

    def score(model, hyperparameters: dict, metadata: dict) -> dict:
        predictor = XasPredictor(model, {**metadata, "hyperparameters": hyperparameters})
        sites = predictor.predict_site_graphs(valid_graphs)
        targets = np.concatenate([g[keys.NODE_TARGET][g[keys.ABSORBER_MASK]].numpy() for g in valid_graphs])
        return xas_metrics(targets, sites, train_mean)

    provenance = {"source": XAS_SOURCE, "folder": str(data.folder), "train_split": data.train_split,
                  "valid_split": data.valid_split, "n_train": len(train_set), "n_valid": len(valid_set)}
    metadata = {"energy_ev": dataset.energy_ev.tolist(), "elements": elements,
                "absorbers": [{"element": el, "edge": edge} for el, edge in absorbers],
                "train_mean_spectrum": train_mean.tolist()}
    if train_set.edge_step is not None and np.isfinite(train_set.edge_step).all():
        metadata["edge_step"] = float(np.median(train_set.edge_step))
    return PreparedData(train_graphs, valid_graphs, train_mean, len(dataset.energy_ev), metadata,
                        provenance, score)


def _cached(data, part: str, recipe: dict, build):
    """Graphs of one split, from ``data.graph_cache`` when it holds them for this exact recipe."""
    key = cache_key(**recipe)
    folder = Path(data.graph_cache) / f"{part}-{key}" if data.graph_cache else None
    return cached_graphs(folder, key, build)


def _folder_fingerprint(folder: str) -> dict:
    return {p.name: sha256(p) for p in sorted(Path(folder).iterdir()) if p.is_file()}


def _first_materials(dataset, limit: int | None):
    """The sites of the first ``limit`` materials (all with ``None``): quick runs keep whole structures."""
    if limit is None:
        return dataset
    keep = set(dataset.materials()[:limit])
    return dataset.select(np.isin(dataset.material_id, list(keep)))


TASK_DATA = {"phdos": _phdos_data, "xas": _xas_data}


def resume_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest checkpoint a run in ``output_dir`` left: ``checkpoints/last*.ckpt`` (saved every
    ``trainer.checkpoint_every_n_steps`` steps and at each epoch end) or ``hpc_ckpt_*.ckpt`` (saved by
    Lightning when SLURM sends the requeue signal)."""
    out = Path(output_dir)
    candidates = [*out.glob("checkpoints/last*.ckpt"), *out.glob("hpc_ckpt_*.ckpt")]
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


def _requeued() -> bool:
    """A SLURM job started again after preemption or ``scontrol requeue``."""
    import os

    return int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0) > 0


def _warm_start(model: torch.nn.Module, init_from: str, hyper: ModelHyperparameters) -> None:
    """Copy every weight (and standardisation buffer) of a trained model into ``model``: fine-tuning the last
    pretrained blocks then starts from a head that already fits the frozen features. ``init_from`` is a model
    directory, or ``DIR:INDEX`` for one member of an ensemble. The source must have the same hyper-parameters
    but ``pretrained_trainable``; the only weights it lacks must be the trainable blocks (copies of the
    pretrained ones)."""
    from ..models.serialization import load_model_dir

    path, _, member = init_from.rpartition(":") if init_from.rpartition(":")[2].isdigit() else (init_from, "", "")
    source, info = load_model_dir(path)
    if member:
        if not hasattr(source, "members") or int(member) >= len(source.members):
            raise ConfigError("init_from", f"{path} has no ensemble member {member}")
        source, info = source.members[int(member)], info["members"][int(member)]
    ours = {k: v for k, v in hyper.to_dict().items() if k != "pretrained_trainable"}
    theirs = {k: v for k, v in ModelHyperparameters.from_dict(info["hyperparameters"]).to_dict().items()
              if k != "pretrained_trainable"}
    differing = sorted(k for k in ours if ours[k] != theirs.get(k))
    if differing:
        raise ConfigError("init_from", f"{init_from} has other hyper-parameters: {differing[0]} = "
                                       f"{theirs.get(differing[0])!r}, not {ours[differing[0]]!r}")
    state, target = source.state_dict(), model.state_dict()
    new = [k for k in target if k not in state]
    if set(state) - set(target) or any(not k.startswith("backbone.pretrained_blocks.") for k in new):
        raise ConfigError("init_from", f"{init_from}'s weights do not fit this model")
    model.load_state_dict({**target, **state}, strict=True)


def train(config: TrainConfig, resume: bool = False, extra_callbacks: list | None = None) -> Path:
    """Train, keep the best epoch by valid loss and export it to ``{output_dir}/model``.

    With ``resume`` (or in a requeued SLURM job) training continues from the newest checkpoint in
    ``output_dir``, losing only the steps after it. ``extra_callbacks`` are Lightning callbacks added
    after equispec's own (``scripts/bench/bench.py`` times epochs with one); they must not change what is
    trained. Returns the exported model directory.
    """
    started = time.time()
    out = Path(config.output_dir)
    check_data_paths(config)
    L.seed_everything(config.trainer.seed, workers=True)

    hyper = ModelHyperparameters.from_dict(config.model, "model")
    prepared = TASK_DATA[config.task](config, hyper)  # reads and checks the data before any output is made
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    hyper.n_out = prepared.n_out
    if "avg_num_neighbors" not in config.model:
        hyper.avg_num_neighbors = round(_average_neighbors(prepared.train_graphs), 4)

    module = SpectrumTask(config.architecture, hyper.to_dict(), dataclasses.asdict(config.optim))
    if hyper.pretrained:
        module.model.backbone.embedding.set_pretrained_statistics(torch.cat(
            [g[keys.NODE_PRETRAINED] for g in prepared.train_graphs]).to(torch.get_default_dtype()))
    if prepared.output_offset is not None:
        module.model.head.set_offset(torch.as_tensor(prepared.output_offset, dtype=torch.get_default_dtype()))
    if config.init_from:
        _warm_start(module.model, config.init_from, hyper)
    datamodule = GraphDataModule(prepared.train_graphs, prepared.valid_graphs, config.optim.batch_size,
                                 config.trainer.num_workers, seed=config.trainer.seed)
    best = ModelCheckpoint(dirpath=out / "checkpoints", filename="best", monitor="valid/loss", mode="min",
                           save_last=True)
    callbacks = [best, LearningRateMonitor(logging_interval="epoch")]
    if config.trainer.checkpoint_every_n_steps:  # bounds what a preemption can cost
        every_steps = ModelCheckpoint(dirpath=out / "checkpoints", save_top_k=0, save_last=True,
                                      every_n_train_steps=config.trainer.checkpoint_every_n_steps)
        every_steps.CHECKPOINT_NAME_LAST = "last-step"  # beside the epoch-end last.ckpt, not a versioned copy
        callbacks.append(every_steps)
    if config.optim.ema_decay:
        callbacks.append(EMAWeightAveraging(decay=config.optim.ema_decay))
    if config.trainer.progress_bar:
        callbacks.append(TQDMProgressBar(refresh_rate=10))
    callbacks.extend(extra_callbacks or [])
    plugins = []
    if SLURMEnvironment.detect():  # on SIGUSR1 Lightning saves hpc_ckpt_N.ckpt and requeues the job
        plugins.append(SLURMEnvironment(auto_requeue=True, requeue_signal=signal.SIGUSR1))
    trainer = L.Trainer(
        accelerator=config.trainer.accelerator, devices=config.trainer.devices, num_nodes=config.trainer.num_nodes,
        strategy=config.trainer.strategy, precision=config.trainer.precision, max_epochs=config.optim.max_epochs,
        accumulate_grad_batches=config.trainer.accumulate_grad_batches,
        gradient_clip_val=config.trainer.gradient_clip_val, logger=CSVLogger(out, name="logs", version=""),
        callbacks=callbacks, plugins=plugins, default_root_dir=out, use_distributed_sampler=False,
        enable_progress_bar=config.trainer.progress_bar, enable_model_summary=False, log_every_n_steps=10,
    )
    checkpoint_path = resume_checkpoint(out) if resume or _requeued() else None
    resumed_from = None
    if checkpoint_path is not None:
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        resumed_from = {"checkpoint": str(checkpoint_path), "epoch": int(state["epoch"]),
                        "global_step": int(state["global_step"])}
        if trainer.is_global_zero:
            print(f"resuming from {checkpoint_path} (epoch {state['epoch']}, step {state['global_step']})")
    trainer.fit(module, datamodule=datamodule, ckpt_path=checkpoint_path)
    if not trainer.is_global_zero:
        return out / "model"

    checkpoint = torch.load(best.best_model_path, map_location="cpu", weights_only=True)
    model = build_model(config.architecture, hyper)
    state = {k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")}
    model.load_state_dict(state, strict=True)
    model.eval()

    valid_metrics = prepared.score(model, hyper.to_dict(), prepared.metadata)
    provenance = {
        "data": prepared.provenance,
        "config": config.to_dict(),
        "best_epoch": int(checkpoint.get("epoch", -1)),
        "global_step": int(trainer.global_step),
        "resumed_from": resumed_from,
        "world_size": int(trainer.world_size),
        "train_seconds": round(time.time() - started, 1),
        "init_from": config.init_from,
        "device": str(trainer.strategy.root_device),
    }
    if hyper.pretrained:
        prepared.metadata["pretrained_backbone"] = _backbone_record(hyper)
    directory = save_model_dir(model, out / "model", config.architecture, hyper.to_dict(), task=config.task,
                               **prepared.metadata, valid_metrics=valid_metrics, provenance=provenance)
    (out / "valid_metrics.json").write_text(json.dumps(valid_metrics, indent=2) + "\n")
    return directory
