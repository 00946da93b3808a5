"""From a model name or directory to the predictor of its task."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import torch

from ..nn.pretrained import check_pretrained_record
from ..devices import resolve_device
from ..errors import ModelError
from ..models.model_info import ModelInfo
from ..models.serialization import load_model_dir, read_model_info
from .base import Predictor
from .phonon import MODES, PhononDosPredictor
from .xas import XasPredictor

__all__ = ["PRETRAINED", "PREDICTORS", "load_predictor", "predictor_for", "resolve_model_dir"]

#: Shipped models: name -> folder under ``checkpoints/``.
PRETRAINED = {"phdos": "phdos", "xas-cu-k": "xas-cu-k"}
#: ``ModelInfo.task`` -> the predictor that serves it; a new spectrum kind registers its predictor here.
PREDICTORS: dict[str, type[Predictor]] = {"phdos": PhononDosPredictor, "xas": XasPredictor}


def _checkpoint_roots() -> list[Path]:
    roots = [Path(str(resources.files("equispec"))) / "checkpoints"]  # installed wheel
    roots.append(Path(__file__).resolve().parents[3] / "checkpoints")  # source checkout / editable install
    return roots


def resolve_model_dir(name_or_dir: str | os.PathLike) -> Path:
    """A shipped model name (see ``PRETRAINED``) or a path to a model directory."""
    text = str(name_or_dir)
    if text in PRETRAINED:
        for root in _checkpoint_roots():
            candidate = root / PRETRAINED[text]
            if (candidate / "model.json").is_file():
                return candidate
        raise ModelError(text, "shipped model files are missing from this installation")
    path = Path(text)
    if path.is_dir():
        return path
    raise ModelError(text, f"unknown model (shipped: {', '.join(sorted(PRETRAINED))}; or give a model directory)")


def predictor_for(model: torch.nn.Module | None, info: ModelInfo | dict, name: str = "model", **options) -> Predictor:
    """The predictor of ``info``'s task around a built model, or around none for a mode that runs no network
    (``options``: the phonon modes and their device, see :func:`load_predictor`)."""
    info = info if isinstance(info, ModelInfo) else ModelInfo.from_dict(info)
    if info.task != "phdos":  # the physics modes exist for phonons only
        mode = options.get("mode", "fast")
        if mode != "fast" or options.get("potential") is not None or options.get("relax"):
            raise ModelError(name, f"mode '{mode}', --potential and --relax are for phonon-DOS models; "
                                   f"{'XAS' if info.task == 'xas' else info.task} models have 'fast' only")
        options = {}
    return PREDICTORS[info.task](model, info, name=name, **options)


def load_predictor(name_or_dir: str | os.PathLike = "phdos", device: str | torch.device = "cpu", mode: str = "fast",
                   potential: str | None = None, relax: bool = False) -> Predictor:
    """Load a shipped model by name or a trained model directory and wrap it in the predictor of its task.

    ``device``: ``cpu``, ``cuda`` or ``auto`` (the GPU when torch sees one); the model and its pretrained
    featurizer both run there.

    ``mode`` (phonon-DOS models): ``fast`` runs the network; ``physics`` computes the DOS from universal-
    potential forces with phonopy (seconds per structure, see ``equispec.physics``); ``hybrid`` combines the
    two as the model's ``hybrid`` record says (frequency scale; fixed or learned network weight).
    Physics mode reads ``model.json`` only (grid, elements, hybrid record), never the network's weights.
    ``potential`` (physics/hybrid: a name of ``equispec.nn.pretrained.table.POTENTIALS``; default: the one the
    hybrid was fitted with)
    and ``relax`` (relax atomic positions at fixed cell first) choose how the forces are computed.
    """
    device = resolve_device(device)
    directory = resolve_model_dir(name_or_dir)
    raw = read_model_info(directory)
    info = ModelInfo.from_dict(raw)
    if info.task == "phdos" and mode in MODES and not MODES[mode].uses_network:  # physics: model.json only
        return predictor_for(None, info, str(name_or_dir), mode=mode, potential=potential, relax=relax,
                             device=str(device))
    model, _ = load_model_dir(directory, raw)
    check_pretrained_record(raw, str(directory))
    return predictor_for(model.to(device), info, str(name_or_dir), mode=mode, potential=potential, relax=relax)
