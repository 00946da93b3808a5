"""The schema of ``model.json``: types and bounds of every field the loader reads, checked before a model is
built, so that a hand-edited or damaged file fails with one line instead of a traceback or a network that
exhausts memory. Fields the loader does not read (provenance, metrics, notes) are free-form."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelError, brief
from ..nn.pretrained.table import DEFAULT_POTENTIAL
from ..typed_fields import bounded, check_fields
from .build import ARCHITECTURE_TASKS, ARCHITECTURES, ModelHyperparameters
from .calibration import SpreadCalibration

__all__ = ["FORMAT_VERSION", "ENSEMBLE", "MAX_MEMBERS", "TASKS", "HybridCalibration", "ModelInfo", "check_model_info"]

FORMAT_VERSION = 1
#: ``architecture`` of a directory holding several members (each with its own architecture in ``members``)
ENSEMBLE = "ensemble"
MAX_MEMBERS = 64
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


#: What a model predicts -> the ``model.json`` key of its spectrum grid.
TASKS = {"phdos": "freq_cm1", "xas": "energy_ev"}


@dataclass(frozen=True)
class HybridCalibration:
    """``model.json``'s ``hybrid`` record, typed: what ``--mode hybrid`` reads.

    Attributes:
        frequency_scale: factor on the physics frequencies, fitted on training materials.
        network_weight: the network's share of the combined DOS (a learned hybrid refines it per bin).
        potential, relax: the force settings the scale belongs to (hybrid mode refuses others).
        learned: the learned hybrid's record (``models.hybrid.LearnedHybrid``), or None.

    The record's other keys document the fit; ``ModelInfo.raw["hybrid"]`` keeps them as written.
    """

    frequency_scale: float = field(default=1.0, metadata=bounded(0.5, 2.0))
    network_weight: float = field(default=0.5, metadata=bounded(0.0, 1.0))
    potential: str = DEFAULT_POTENTIAL
    relax: bool = False
    learned: dict | None = field(default=None, compare=False)

    @classmethod
    def from_dict(cls, record: dict) -> "HybridCalibration":
        return cls(float(record["frequency_scale"]), float(record["network_weight"]),
                   record.get("potential", DEFAULT_POTENTIAL), bool(record.get("relax", False)),
                   record.get("learned"))


@dataclass(frozen=True, eq=False)  # arrays inside: compare fields, not infos
class ModelInfo:
    """The typed view of ``model.json`` that predictors read; ``task`` decides which predictor serves it.

    Attributes:
        task: ``phdos`` (grid ``freq_cm1``, cm^-1) or ``xas`` (grid ``energy_ev``, eV).
        grid: (n_out,) the spectrum grid in the task's unit.
        hyperparameters: what ``models.build.build_model`` (or the shared graph settings of an ensemble) reads.
        elements: element symbols the model was trained on.
        architecture: registered name, or ``ensemble``.
        n_members: ensemble size (1 for a single model).
        absorbers: XAS: ``[{"element", "edge"}]``; empty for phonon DOS.
        edge_step: XAS: typical edge step of the training spectra in their unit, or None.
        train_mean_spectrum: XAS: (n_out,) mean training spectrum (eta's baseline), or None.
        hybrid: phonon DOS: the hybrid calibration (frequency scale, weight, potential, learned part), or None.
        spread_calibration: ensembles: the ensemble spread calibrated on the valid split (conformal scale,
            valid expected-error distribution; ``models.calibration``), or None.
        raw: the whole parsed ``model.json`` (provenance, metrics, notes), as written.
    """

    task: str
    grid: np.ndarray
    hyperparameters: dict
    elements: tuple = ()
    architecture: str | None = None
    n_members: int = 1
    absorbers: tuple = ()
    edge_step: float | None = None
    train_mean_spectrum: np.ndarray | None = None
    hybrid: HybridCalibration | None = None
    spread_calibration: SpreadCalibration | None = None
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, info: dict) -> "ModelInfo":
        """From parsed ``model.json``, or the metadata a training run or ``ensemble`` is about to write."""
        task = info.get("task") or _task_of(info)
        mean = info.get("train_mean_spectrum")
        return cls(task=task, grid=np.asarray(info[TASKS[task]], dtype=float),
                   hyperparameters=dict(info.get("hyperparameters", {})), elements=tuple(info.get("elements", [])),
                   architecture=info.get("architecture"), n_members=len(info.get("members") or [None]),
                   absorbers=tuple(info.get("absorbers") or ()), edge_step=info.get("edge_step"),
                   train_mean_spectrum=None if mean is None else np.asarray(mean, dtype=float),
                   hybrid=None if info.get("hybrid") is None else HybridCalibration.from_dict(info["hybrid"]),
                   spread_calibration=None if info.get("spread_calibration") is None else
                   SpreadCalibration.from_dict(info["spread_calibration"]), raw=info)

    @property
    def physics_defaults(self) -> HybridCalibration:
        """The hybrid calibration, or the defaults of a model without one: its potential and relaxation are
        what physics and hybrid modes use when none is chosen."""
        return self.hybrid or HybridCalibration()

    @property
    def cutoff_ang(self) -> float:
        return float(self.hyperparameters["cutoff_ang"])

    @property
    def pretrained(self) -> str | None:
        """Name of the pretrained featurizer (e.g. ``sevennet-0``), or None."""
        return self.hyperparameters.get("pretrained")

    @property
    def valid_metrics(self) -> dict | None:
        return self.raw.get("valid_metrics")


def _task_of(info: dict) -> str:
    """Files written before ``task`` was stored: the task of the (first member's) architecture, else the grid."""
    architecture = info.get("architecture")
    if architecture == ENSEMBLE and info.get("members"):
        architecture = info["members"][0].get("architecture")
    if architecture in ARCHITECTURE_TASKS:
        return ARCHITECTURE_TASKS[architecture]
    for task, grid in TASKS.items():
        if grid in info:
            return task
    raise ModelError("model.json", "says neither its task nor its spectrum grid (freq_cm1 or energy_ev)")




def check_model_info(info, source: str) -> dict:
    """Raise ``ModelError(source: key, problem)`` unless ``info`` (parsed ``model.json``) can be loaded."""
    if not isinstance(info, dict):
        raise ModelError(source, f"expected a JSON object, got {type(info).__name__}")
    version = info.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelError(source, f"format_version must be a positive integer (got {brief(version, 40)})")
    if version > FORMAT_VERSION:
        raise ModelError(source, f"model format_version {version} is newer than this equispec supports "
                                 f"({FORMAT_VERSION}); upgrade equispec")
    if not isinstance(info.get("weights_sha256"), str) or not _SHA256.match(info["weights_sha256"]):
        raise ModelError(source, "weights_sha256 must be the 64-digit hex SHA-256 of model.safetensors")
    architecture = info.get("architecture")
    if architecture == ENSEMBLE:
        members = info.get("members")
        if not isinstance(members, list) or not 1 <= len(members) <= MAX_MEMBERS:
            raise ModelError(source, f"an ensemble needs a list of 1-{MAX_MEMBERS} members")
        for k, member in enumerate(members):
            where = f"{source}: members[{k}]"
            if not isinstance(member, dict):
                raise ModelError(where, "expected a JSON object")
            _check_architecture(member.get("architecture"), where)
            ModelHyperparameters.from_dict(member.get("hyperparameters", {}), f"{where}.hyperparameters", ModelError)
        hyper = info.get("hyperparameters", {})
        if not isinstance(hyper, dict):
            raise ModelError(f"{source}: hyperparameters", "expected a JSON object")
        check_fields(ModelHyperparameters, hyper, f"{source}: hyperparameters", ModelError)
    else:
        _check_architecture(architecture, source)
        ModelHyperparameters.from_dict(info.get("hyperparameters", {}), f"{source}: hyperparameters", ModelError)
    n_out = info.get("hyperparameters", {}).get("n_out", ModelHyperparameters.n_out)
    task = info.get("task")
    if task is not None and (not isinstance(task, str) or task not in TASKS):
        raise ModelError(f"{source}: task", f"unknown task {brief(task, 40)}")
    grids = [key for key in TASKS.values() if key in info]
    if len(grids) != 1:
        raise ModelError(source, "needs exactly one spectrum grid, freq_cm1 (phonon DOS) or energy_ev (XAS)")
    if task is not None and grids[0] != TASKS[task]:
        raise ModelError(f"{source}: task", f"task {task} needs the {TASKS[task]} grid, not {grids[0]}")
    _check_numbers(info[grids[0]], f"{source}: {grids[0]}", n_out, increasing=True)
    if "train_mean_spectrum" in info:
        _check_numbers(info["train_mean_spectrum"], f"{source}: train_mean_spectrum", n_out)
    edge_step = info.get("edge_step")
    if edge_step is not None and not (_is_number(edge_step) and edge_step > 0):
        raise ModelError(f"{source}: edge_step", f"must be a positive number or null (got {brief(edge_step, 40)})")
    _check_elements(info.get("elements", []), f"{source}: elements")
    absorbers = info.get("absorbers", [])
    if not isinstance(absorbers, list) or not all(isinstance(a, dict) and isinstance(a.get("edge"), str)
                                                  for a in absorbers):
        raise ModelError(f"{source}: absorbers", "expected a list of {element, edge} objects")
    _check_elements([a.get("element") for a in absorbers], f"{source}: absorbers")
    if "hybrid" in info:
        hybrid = info["hybrid"]
        if not isinstance(hybrid, dict):
            raise ModelError(f"{source}: hybrid", "expected a JSON object")
        read = {key: hybrid[key] for key in ("frequency_scale", "network_weight", "potential", "relax") if key in hybrid}
        check_fields(HybridCalibration, read, f"{source}: hybrid", ModelError)
        if "frequency_scale" not in read or "network_weight" not in read:
            raise ModelError(f"{source}: hybrid", "needs frequency_scale and network_weight")
        if "learned" in hybrid:
            _check_learned_hybrid(hybrid["learned"], f"{source}: hybrid.learned", n_out,
                                  len(info.get("members") or [None]))
    if info.get("spread_calibration") is not None:
        SpreadCalibration.from_dict(info["spread_calibration"], f"{source}: spread_calibration")
    backbone = info.get("pretrained_backbone")
    if backbone is not None and not isinstance(backbone, dict):
        raise ModelError(f"{source}: pretrained_backbone", "expected a JSON object")
    return info


def _check_learned_hybrid(record, where: str, n_out: int, n_members: int) -> None:
    """What ``models.hybrid.LearnedHybrid`` and the predictor read from the learned record."""
    from .hybrid import RELIABILITY_FEATURES

    if not isinstance(record, dict):
        raise ModelError(where, "expected a JSON object")
    if record.get("features") != list(RELIABILITY_FEATURES):
        raise ModelError(f"{where}.features", f"must be {list(RELIABILITY_FEATURES)}")
    _check_numbers(record.get("bin_logit"), f"{where}.bin_logit", n_out)
    for key in ("coefficients", "feature_mean", "feature_std"):
        _check_numbers(record.get(key), f"{where}.{key}", len(RELIABILITY_FEATURES))
    if not all(v > 0 for v in record["feature_std"]):
        raise ModelError(f"{where}.feature_std", "must be positive")
    members = record.get("spread_members")
    if not isinstance(members, list) or len(members) < 2 or not all(
            isinstance(m, int) and not isinstance(m, bool) and 0 <= m < n_members for m in members):
        raise ModelError(f"{where}.spread_members", f"expected at least two member indices below {n_members}")
    fractions = record.get("element_fractions")
    if not isinstance(fractions, dict) or not all(isinstance(k, str) and _is_number(v) and 0 <= v <= 1
                                                  for k, v in fractions.items()):
        raise ModelError(f"{where}.element_fractions", "expected element -> fraction in [0, 1]")


def _check_architecture(name, where: str) -> None:
    if not isinstance(name, str) or name not in ARCHITECTURES:
        raise ModelError(where, f"unknown architecture {brief(name, 40)} (known: {', '.join(sorted(ARCHITECTURES))}, "
                                f"{ENSEMBLE})")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_numbers(values, where: str, length: int, increasing: bool = False) -> None:
    if not isinstance(values, list) or not all(_is_number(v) for v in values):
        raise ModelError(where, "expected a list of finite numbers")
    if len(values) != length:
        raise ModelError(where, f"has {len(values)} values, but the model predicts n_out = {length}")
    if increasing and any(b <= a for a, b in zip(values, values[1:])):
        raise ModelError(where, "must increase strictly")


def _check_elements(symbols, where: str) -> None:
    from pymatgen.core.periodic_table import Element

    if not isinstance(symbols, list) or not all(isinstance(s, str) and Element.is_valid_symbol(s) for s in symbols):
        raise ModelError(where, "expected a list of element symbols")
