"""Model directories: ``model.safetensors`` (state_dict only) + ``model.json`` (everything to rebuild it).

Loading never unpickles: the JSON names an architecture from a closed registry, the weights are
safetensors, and ``load_state_dict(strict=True)`` refuses anything that does not fit.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .._version import __version__
from ..errors import ModelError
from ..io.files import atomic_write, cached_sha256, sha256
from .model_info import ENSEMBLE, FORMAT_VERSION, check_model_info

__all__ = ["ENSEMBLE", "FORMAT_VERSION", "save_model_dir", "load_model_dir", "ensemble_from_dirs", "combine_model_dirs"]

#: hyper-parameters that decide the input graph, so every member of an ensemble must share them
GRAPH_HYPERPARAMETERS = ("cutoff_ang", "pretrained", "pretrained_trainable", "n_out")
#: ``model.json`` fields that say what a model predicts (task, grid, absorbers, data it was fitted to)
MEMBER_AGREEMENT = ("task", "freq_cm1", "energy_ev", "absorbers", "train_mean_spectrum", "edge_step",
                    "pretrained_backbone")
WEIGHTS = "model.safetensors"
METADATA = "model.json"
#: A model.json is a few hundred kB at most; a bigger one is not ours.
MAX_METADATA_BYTES = 16 << 20



def save_model_dir(model: torch.nn.Module, directory: str | Path, architecture: str, hyperparameters: dict,
                   **metadata) -> Path:
    """Write weights and metadata; ``metadata`` holds e.g. ``elements``, ``freq_cm1``, ``provenance``,
    ``valid_metrics``. Returns the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    atomic_write(directory / WEIGHTS, lambda tmp: save_file(state, tmp))
    info = {
        "format_version": FORMAT_VERSION,
        "equispec_version": __version__,
        "architecture": architecture,
        "hyperparameters": hyperparameters,
        **metadata,
        "weights_sha256": sha256(directory / WEIGHTS),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write(directory / METADATA, lambda tmp: Path(tmp).write_text(json.dumps(info, indent=2) + "\n"))
    return directory


def read_model_info(directory: str | Path) -> dict:
    """``model.json`` of a model directory, checked against its schema, without reading the weights (what
    physics mode needs: the grid, the elements and the hybrid record)."""
    directory = Path(directory)
    name = str(directory)
    metadata, weights = directory / METADATA, directory / WEIGHTS
    if not metadata.is_file() or not weights.is_file():
        raise ModelError(name, f"not a model directory (needs {METADATA} and {WEIGHTS})")
    if metadata.stat().st_size > MAX_METADATA_BYTES:
        raise ModelError(str(metadata), f"is over {MAX_METADATA_BYTES >> 20} MB: not a model description")
    try:
        info = json.loads(metadata.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(str(metadata), f"unreadable model metadata ({reason})") from None
    check_model_info(info, str(metadata))
    return info


def load_model_dir(directory: str | Path, info: dict | None = None) -> tuple[torch.nn.Module, dict]:
    """Rebuild the model from ``model.json`` (checked against its schema; ``info``: already read by
    :func:`read_model_info`) and load ``model.safetensors`` strictly, after checking that its SHA-256 is the
    one ``model.json`` recorded."""
    from .build import build_model

    info = read_model_info(directory) if info is None else info
    weights = Path(directory) / WEIGHTS
    if cached_sha256(weights) != info["weights_sha256"]:  # a file unchanged since its last check is not re-read
        raise ModelError(str(weights), f"SHA-256 differs from weights_sha256 in {METADATA}: the weights were "
                                       "changed or damaged after the model was saved")
    if info["architecture"] == ENSEMBLE:
        from .build import EnsembleModel

        model = EnsembleModel([build_model(m["architecture"], m.get("hyperparameters", {})) for m in info["members"]])
    else:
        model = build_model(info["architecture"], info.get("hyperparameters", {}))
    try:
        state = load_file(weights)
        model.load_state_dict(state, strict=True)
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(str(weights), f"weights do not fit the architecture ({reason[:200]})") from None
    model.eval()
    return model, info


def ensemble_from_dirs(directories: list) -> tuple[torch.nn.Module, dict]:
    """Load trained model directories as one ensemble; returns (model, metadata for ``model.json``).

    Members may differ in architecture and hyper-parameters, but they read the same graph and predict on
    the same grid: ``GRAPH_HYPERPARAMETERS``, ``task`` and the grid must agree. Each member's
    architecture, hyper-parameters, valid metrics and provenance are kept in ``members``.
    """
    from .build import EnsembleModel

    members, infos = [], []
    for directory in directories:
        model, info = load_model_dir(directory)
        if info.get("architecture") == ENSEMBLE:
            raise ModelError(str(directory), "is already an ensemble")
        shared = {k: info["hyperparameters"].get(k) for k in GRAPH_HYPERPARAMETERS}
        for key in MEMBER_AGREEMENT:
            shared[key] = info.get(key)
        if infos and shared != infos[0][1]:
            differing = next(k for k in shared if shared[k] != infos[0][1][k])
            raise ModelError(str(directory), f"{differing} differs from {directories[0]}")
        members.append(model)
        infos.append((info, shared))
    if len(members) < 2:
        raise ModelError(str(directories[0]) if directories else "ensemble", "an ensemble needs at least two members")
    shared = infos[0][1]
    metadata = {k: shared[k] for k in MEMBER_AGREEMENT if shared[k] is not None}
    metadata["architecture"] = ENSEMBLE
    metadata["hyperparameters"] = {k: shared[k] for k in GRAPH_HYPERPARAMETERS}
    metadata["elements"] = sorted(set.intersection(*(set(i.get("elements", [])) for i, _ in infos)))
    metadata["members"] = [{"architecture": i["architecture"], "hyperparameters": i["hyperparameters"],
                            "source": str(d), "weights_sha256": i["weights_sha256"],
                            "valid_metrics": i.get("valid_metrics"), "provenance": i.get("provenance")}
                           for d, (i, _) in zip(directories, infos)]
    return EnsembleModel(members).eval(), metadata


def combine_model_dirs(directories: list, output: str | Path, score=None, **extra) -> Path:
    """Merge trained model directories into one ensemble directory (see :func:`ensemble_from_dirs`);
    ``extra`` (e.g. ``valid_metrics``) is added to its ``model.json``, and so is what ``score(model,
    metadata)`` returns: it runs before anything is written, so a failed evaluation leaves nothing behind."""
    model, metadata = ensemble_from_dirs(directories)
    if score is not None:
        extra = {**extra, **score(model, metadata)}
    return save_model_dir(model, output, metadata.pop("architecture"), metadata.pop("hyperparameters"),
                          **metadata, **extra)
