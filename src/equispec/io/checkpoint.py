"""Model directories: ``model.safetensors`` (state_dict only) + ``model.json`` (everything to rebuild it).

Loading never unpickles: the JSON names an architecture from a closed registry, the weights are
safetensors, and ``load_state_dict(strict=True)`` refuses anything that does not fit.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .. import __version__
from ..errors import ModelError

__all__ = ["FORMAT_VERSION", "save_model_dir", "load_model_dir", "combine_model_dirs", "sha256"]

FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
METADATA = "model.json"


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename: never a half-written file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_model_dir(model: torch.nn.Module, directory: str | Path, architecture: str, hyperparameters: dict,
                   **metadata) -> Path:
    """Write weights and metadata; ``metadata`` holds e.g. ``elements``, ``freq_cm1``, ``provenance``,
    ``valid_metrics``. Returns the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    _atomic_write(directory / WEIGHTS, lambda tmp: save_file(state, tmp))
    info = {
        "format_version": FORMAT_VERSION,
        "equispec_version": __version__,
        "architecture": architecture,
        "hyperparameters": hyperparameters,
        **metadata,
        "weights_sha256": sha256(directory / WEIGHTS),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    _atomic_write(directory / METADATA, lambda tmp: Path(tmp).write_text(json.dumps(info, indent=2) + "\n"))
    return directory


def load_model_dir(directory: str | Path) -> tuple[torch.nn.Module, dict]:
    """Rebuild the model from ``model.json`` and load ``model.safetensors`` strictly."""
    from ..models.build import build_model

    directory = Path(directory)
    name = str(directory)
    if not (directory / METADATA).is_file() or not (directory / WEIGHTS).is_file():
        raise ModelError(name, f"not a model directory (needs {METADATA} and {WEIGHTS})")
    try:
        info = json.loads((directory / METADATA).read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(str(directory / METADATA), f"unreadable model metadata ({exc})") from None
    version = info.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelError(name, f"model format_version {version!r} is newer than this equispec supports "
                               f"({FORMAT_VERSION}); upgrade equispec")
    model = build_model(info.get("architecture", ""), info.get("hyperparameters", {}), info.get("ensemble_size", 1))
    try:
        state = load_file(directory / WEIGHTS)
        model.load_state_dict(state, strict=True)
    except Exception as exc:
        raise ModelError(str(directory / WEIGHTS), f"weights do not fit the architecture ({exc})") from None
    model.eval()
    return model, info


def combine_model_dirs(directories: list, output: str | Path, **metadata) -> Path:
    """Merge trained model directories of one architecture into an ensemble directory.

    Members must agree on architecture, hyper-parameters and grid; their provenance is kept in
    ``members``. ``metadata`` (e.g. ``valid_metrics``) is added to the ensemble's ``model.json``.
    """
    from ..models.build import EnsembleModel

    members, infos = [], []
    for directory in directories:
        model, info = load_model_dir(directory)
        if info.get("ensemble_size", 1) != 1:
            raise ModelError(str(directory), "is already an ensemble")
        for key in ("architecture", "hyperparameters", "freq_cm1", "energy_ev", "task"):
            if infos and info.get(key) != infos[0].get(key):
                raise ModelError(str(directory), f"{key} differs from {directories[0]}")
        members.append(model)
        infos.append(info)
    if len(members) < 2:
        raise ModelError(str(output), "an ensemble needs at least two members")
    first = infos[0]
    keep = {k: first[k] for k in ("task", "freq_cm1", "energy_ev") if k in first}
    elements = sorted(set.intersection(*(set(i.get("elements", [])) for i in infos)))
    member_info = [{"directory": str(d), "weights_sha256": i["weights_sha256"], "valid_metrics": i.get("valid_metrics"),
                    "provenance": i.get("provenance")} for d, i in zip(directories, infos)]
    return save_model_dir(EnsembleModel(members), output, first["architecture"], first["hyperparameters"],
                          ensemble_size=len(members), elements=elements, **keep, members=member_info, **metadata)
