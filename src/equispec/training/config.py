"""Training configuration: YAML -> typed dataclasses. An unknown key is an error that names it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

import yaml

from ..errors import ConfigError
from ..models.build import ModelHyperparameters

__all__ = ["DataConfig", "OptimConfig", "TrainerConfig", "TrainConfig", "load_config"]

TASKS = ("phdos", "xas")


@dataclass
class DataConfig:
    """Where the labelled data live. Relative paths are taken from the current directory."""

    csv: str = ""  # phdos: labelled CSV, with id lists for the splits
    train_ids: str = ""
    valid_ids: str = ""
    folder: str = ""  # xas: site-spectrum folder (equispec or OmniXAS layout), with split names
    train_split: str = "train"
    valid_split: str = "val"
    limit_train: Optional[int] = None  # use only the first N training ids (quick runs, tests)
    limit_valid: Optional[int] = None
    feature_cache: Optional[str] = None  # .npz that keeps pretrained per-atom features between runs
    graph_cache: Optional[str] = None  # folder of memory-mapped graph stores, built once per data/cutoff/features
    gamma_json: Optional[str] = None  # Γ-point frequencies per mp-id: enables the auxiliary Γ-spectrum task


@dataclass
class OptimConfig:
    lr: float = 3e-3
    weight_decay: float = 0.0
    batch_size: int = 16
    max_epochs: int = 200
    scheduler: str = "cosine"  # cosine | exponential | plateau | none
    gamma: float = 0.96  # per-epoch decay for ``exponential``
    warmup_epochs: int = 5
    loss: str = "mse"  # mse | mae
    gamma_weight: float = 0.5  # weight of the auxiliary Γ-spectrum loss (with data.gamma_json)
    gamma_sigma_cm1: float = 25.0  # Gaussian broadening of Γ modes for that label
    position_noise_ang: float = 0.0  # std of Gaussian jitter added to training positions (regulariser)
    ema_decay: Optional[float] = None  # exponential moving average of weights, used for validation and export
    pretrained_lr: float = 1e-4  # peak lr of fine-tuned pretrained blocks (model.pretrained_trainable); no weight decay


@dataclass
class TrainerConfig:
    """Passed to ``lightning.Trainer``; the same file runs on a laptop CPU or many GPU nodes."""

    accelerator: str = "auto"
    devices: Any = 1
    num_nodes: int = 1
    strategy: str = "auto"  # "ddp" for several processes (GPUs, nodes, or CPU processes with gloo)
    precision: str = "32-true"  # "bf16-mixed" or "16-mixed" on GPUs
    accumulate_grad_batches: int = 1
    checkpoint_every_n_steps: Optional[int] = None  # also save last.ckpt every N optimizer steps (preemption)
    seed: int = 0
    num_workers: int = 0
    gradient_clip_val: Optional[float] = 10.0
    progress_bar: bool = True


@dataclass
class TrainConfig:
    task: str = "phdos"
    architecture: str = "phdos_gate_v1"
    output_dir: str = "runs/phdos"
    data: DataConfig = field(default_factory=DataConfig)
    model: dict = field(default_factory=dict)  # ModelHyperparameters fields; avg_num_neighbors from data
    init_from: Optional[str] = None  # trained model dir (an ensemble's member: DIR:INDEX) whose weights start the run
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _build(cls, values: Any, where: str):
    if not isinstance(values, dict):
        raise ConfigError(where, f"expected a mapping, got {type(values).__name__}")
    known = {f.name: f for f in fields(cls)}
    for key in values:
        if key not in known:
            raise ConfigError(f"{where}.{key}" if where else key,
                              f"unknown key (known: {', '.join(sorted(known))})")
    kwargs = {}
    for key, value in values.items():
        sub = {"data": DataConfig, "optim": OptimConfig, "trainer": TrainerConfig}.get(key) if cls is TrainConfig \
            else None
        kwargs[key] = _build(sub, value, key) if sub else value
    return cls(**kwargs)


def _set_dotted(raw: dict, assignment: str) -> None:
    if "=" not in assignment:
        raise ConfigError(assignment, "override must look like section.key=value")
    dotted, value = assignment.split("=", 1)
    parts = dotted.split(".")
    node = raw
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = yaml.safe_load(value)


def load_config(path: str | Path, overrides: list[str] = ()) -> TrainConfig:
    """Read a YAML file (``yaml.safe_load``), apply ``section.key=value`` overrides and validate."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), "no such file")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), f"not valid YAML ({str(exc).splitlines()[0]})") from None
    for assignment in overrides:
        _set_dotted(raw, assignment)
    config = _build(TrainConfig, raw, "")
    if config.task not in TASKS:
        raise ConfigError("task", f"unknown task '{config.task}' (known: {', '.join(TASKS)})")
    ModelHyperparameters.from_dict(config.model, "model")  # validate keys early
    from ..models.build import ARCHITECTURE_TASKS

    if ARCHITECTURE_TASKS.get(config.architecture, config.task) != config.task:
        raise ConfigError("architecture", f"'{config.architecture}' predicts {ARCHITECTURE_TASKS[config.architecture]}, "
                                          f"not task '{config.task}'")
    for name in ("csv", "train_ids", "valid_ids") if config.task == "phdos" else ("folder",):
        if not getattr(config.data, name):
            raise ConfigError(f"data.{name}", "is required")
    if config.optim.scheduler not in ("cosine", "exponential", "plateau", "none"):
        raise ConfigError("optim.scheduler", f"unknown scheduler '{config.optim.scheduler}'")
    if config.optim.loss not in ("mse", "mae"):
        raise ConfigError("optim.loss", f"unknown loss '{config.optim.loss}'")
    return config
