"""Training configuration: YAML -> typed dataclasses. An unknown key is an error that names it."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Optional

import yaml

from ..errors import ConfigError, brief
from ..models.build import ModelHyperparameters
from ..typed_fields import bounded, check_fields

__all__ = ["DataConfig", "OptimConfig", "TrainerConfig", "TrainConfig", "load_config", "check_data_paths"]

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
    # use only the first N training ids (quick runs, tests)
    limit_train: Optional[int] = field(default=None, metadata=bounded(1))
    limit_valid: Optional[int] = field(default=None, metadata=bounded(1))
    feature_cache: Optional[str] = None  # .npz that keeps pretrained per-atom features between runs
    graph_cache: Optional[str] = None  # folder of memory-mapped graph stores, built once per data/cutoff/features

    #: removed: the auxiliary Γ-point spectrum task did not help (docs/training.md)
    RETIRED: ClassVar[dict] = {"gamma_json": None}


@dataclass
class OptimConfig:
    lr: float = field(default=3e-3, metadata=bounded(0, 10, low_open=True))
    weight_decay: float = field(default=0.0, metadata=bounded(0))
    batch_size: int = field(default=16, metadata=bounded(1))
    max_epochs: int = field(default=200, metadata=bounded(1))
    scheduler: str = "cosine"  # cosine | exponential | plateau | none
    gamma: float = field(default=0.96, metadata=bounded(0, 1, low_open=True))  # per-epoch decay for ``exponential``
    warmup_epochs: int = field(default=5, metadata=bounded(0))
    loss: str = "mse"  # mse | mae
    # exponential moving average of weights, used for validation and export
    ema_decay: Optional[float] = field(default=None, metadata=bounded(0, 1))
    # peak lr of fine-tuned pretrained blocks (model.pretrained_trainable); no weight decay
    pretrained_lr: float = field(default=1e-4, metadata=bounded(0, 10, low_open=True))

    #: removed: position jitter and the auxiliary Γ-spectrum loss did not help (docs/training.md)
    RETIRED: ClassVar[dict] = {"position_noise_ang": 0.0, "gamma_weight": 0.5, "gamma_sigma_cm1": 25.0}


@dataclass
class TrainerConfig:
    """Passed to ``lightning.Trainer``; the same file runs on a laptop CPU or many GPU nodes."""

    accelerator: str = "auto"
    devices: Any = 1
    num_nodes: int = field(default=1, metadata=bounded(1))
    strategy: str = "auto"  # "ddp" for several processes (GPUs, nodes, or CPU processes with gloo)
    precision: str = "32-true"  # "bf16-mixed" or "16-mixed" on GPUs
    accumulate_grad_batches: int = field(default=1, metadata=bounded(1))
    # also save last.ckpt every N optimizer steps (preemption)
    checkpoint_every_n_steps: Optional[int] = field(default=None, metadata=bounded(1))
    seed: int = 0
    num_workers: int = field(default=0, metadata=bounded(0))
    gradient_clip_val: Optional[float] = field(default=10.0, metadata=bounded(0, low_open=True))
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
        raise ConfigError(where or "config", f"expected a mapping, got {type(values).__name__}")
    kwargs = check_fields(cls, values, where, ConfigError)
    if cls is TrainConfig:
        for key, section in (("data", DataConfig), ("optim", OptimConfig), ("trainer", TrainerConfig)):
            if key in kwargs:
                kwargs[key] = _build(section, kwargs[key], key)
    return cls(**kwargs)


class _AliasRefused(Exception):
    def __init__(self, anchor: str, line: int):
        super().__init__(anchor, line)
        self.anchor, self.line = anchor, line


class _ConfigLoader(yaml.SafeLoader):
    """``yaml.safe_load`` without aliases: ``*name`` is refused where it is met, so that nested anchors
    cannot expand a 1.4 KB file into gigabytes (one value per key is the rule of configs anyway)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _AliasRefused(event.anchor, event.start_mark.line + 1)
        return super().compose_node(parent, index)


def _load_yaml(text: str, source: str):
    try:
        return yaml.load(text, Loader=_ConfigLoader)
    except _AliasRefused as exc:
        raise ConfigError(source, f"line {exc.line}: YAML aliases (*{exc.anchor[:40]}) are not accepted in "
                                  "configs; write the value out") from None


def _set_dotted(raw: dict, assignment: str) -> None:
    if "=" not in assignment:
        raise ConfigError(assignment, "override must look like section.key=value")
    dotted, value = assignment.split("=", 1)
    parts = dotted.split(".")
    node = raw
    for depth, part in enumerate(parts[:-1]):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(".".join(parts[:depth + 1]), f"is not a section (--set {assignment})")
    try:
        node[parts[-1]] = _load_yaml(value, f"{dotted} (--set)")
    except ConfigError:
        raise
    except (yaml.YAMLError, ValueError, OverflowError):
        raise ConfigError(dotted, f"value is not valid YAML (--set {assignment})") from None


def load_config(path: str | Path, overrides: list[str] = ()) -> TrainConfig:
    """Read a YAML file (``yaml.safe_load``), apply ``section.key=value`` overrides and validate."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), "no such file")
    try:
        raw = _load_yaml(path.read_text(), str(path)) or {}
    except ConfigError:
        raise
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), f"not valid YAML ({str(exc).splitlines()[0]})") from None
    except (ValueError, OverflowError) as exc:  # PyYAML's scanner: an escape such as "\U99999999" in a string
        raise ConfigError(str(path), f"not valid YAML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"cannot read config ({getattr(exc, 'strerror', None) or exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(str(path), f"expected a mapping of sections, got {type(raw).__name__}")
    for assignment in overrides:
        _set_dotted(raw, assignment)
    config = _build(TrainConfig, raw, "")
    if config.task not in TASKS:
        raise ConfigError("task", f"unknown task '{config.task}' (known: {', '.join(TASKS)})")
    checked = ModelHyperparameters.from_dict(config.model, "model")  # keys, types and bounds, early
    config.model = {key: getattr(checked, key) for key in config.model}
    from ..nn.pretrained.table import FEATURES
    from ..models.build import ARCHITECTURE_TASKS

    _one_of("architecture", config.architecture, ARCHITECTURE_TASKS)
    if checked.pretrained is not None:
        _one_of("model.pretrained", checked.pretrained, FEATURES)
    _one_of("trainer.accelerator", config.trainer.accelerator, ACCELERATORS)
    _one_of("trainer.precision", config.trainer.precision, PRECISIONS)
    _check_devices(config.trainer.devices)
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


#: What ``lightning.Trainer`` takes for ``accelerator`` and ``precision`` (checked here, so that a typo
#: fails in the config check, not in Lightning's start-up on a cluster node).
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
PRECISIONS = ("32-true", "32", "64-true", "64", "16-mixed", "16", "bf16-mixed", "bf16", "16-true", "bf16-true")


def _one_of(key: str, value, known) -> None:
    if value not in known:
        raise ConfigError(key, f"unknown value {brief(value, 40)} (known: {', '.join(map(str, known))})")


def _check_devices(devices) -> None:
    """An int (-1: all), ``auto``, a list of device indices or a string of them, as Lightning takes them."""
    def index(d) -> bool:
        return isinstance(d, int) and not isinstance(d, bool)

    ok = (devices == "auto" or (index(devices) and (devices >= 1 or devices == -1))
          or (isinstance(devices, list) and len(devices) > 0 and all(index(d) and d >= 0 for d in devices))
          or (isinstance(devices, str) and re.fullmatch(r"\s*-?\d+\s*(,\s*\d+\s*)*,?", devices) is not None))
    if not ok:
        raise ConfigError("trainer.devices", f"expected a count, -1, 'auto' or a list of device indices "
                                             f"(got {brief(devices, 40)})")


def check_data_paths(config: TrainConfig) -> None:
    """The data a config names exist (checked before a run makes its output folder)."""
    names = ("csv", "train_ids", "valid_ids") if config.task == "phdos" else ("folder",)
    for name in names:
        path = Path(getattr(config.data, name))
        exists = path.is_dir() if name == "folder" else path.exists() and not path.is_dir()
        if not exists:
            raise ConfigError(f"data.{name}", f"{path}: no such {'folder' if name == 'folder' else 'file'}")
