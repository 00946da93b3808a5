"""What a front end (the command line, the web page) names and checks before it asks a workflow for work.

The names and rules live in the layers below (the potentials' table in ``nn``, instruments in ``physics``, the
measured kinds in ``analysis``); they are offered here so that the front ends import nothing below workflows.
Each function imports its layer when called: the parser of ``--help`` reads :func:`potential_names` and must
not load torch or pymatgen.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["check_config_data", "check_engine", "check_scheduler", "default_physics_cache_dir", "describe_model",
           "energy_resolution", "is_mp_id", "is_sqe_file", "parse_memory_size", "parse_phonon_order",
           "potential_names"]


def potential_names() -> tuple[str, ...]:
    """The potentials physics and hybrid modes may use, in the table's order."""
    from ..nn.pretrained.table import POTENTIAL_NAMES

    return POTENTIAL_NAMES


def energy_resolution(resolution, ei_mev: float | None = None, **how):
    """An instrument name resolved at ``ei_mev``, or a FWHM as given (``physics.neutron.energy_resolution``)."""
    from ..physics.neutron import energy_resolution as resolve

    return resolve(resolution, ei_mev, **how)


def parse_phonon_order(text) -> int | str:
    """``--phonon-order``: ``auto`` or the highest multiphonon order (``physics.multiphonon.parse_order``)."""
    from ..physics.multiphonon import parse_order

    return parse_order(text)


def parse_memory_size(text: str) -> int:
    """``8G``, ``500M`` or plain bytes -> bytes."""
    from ..data.structures import parse_memory_size as parse

    return parse(text)


def is_mp_id(text: str) -> bool:
    """Whether ``text`` has the form of a Materials Project id (``mp-149``)."""
    from ..data.structures import is_mp_id as matches

    return matches(text)


def is_sqe_file(path) -> bool:
    """Whether a measured phonon file is an S(|Q|, E) map rather than a DOS table."""
    from ..analysis.readers import is_sqe_file as is_map

    return is_map(path)


def default_physics_cache_dir() -> Path:
    """Where physics and hybrid modes keep forces and DOS when no cache folder is given."""
    from ..physics.cache import default_physics_cache_dir as folder

    return folder()


def check_engine(scheduler: str | None, workers: int | None) -> None:
    """``--scheduler`` and ``--workers`` as the engine checks them (cheap: the scheduler is not asked)."""
    from ..engines import EngineChoice

    EngineChoice(scheduler, workers)


def check_scheduler(address: str) -> str:
    """The address of a Dask scheduler that answered there; a one-line error otherwise."""
    from ..engines import check_scheduler as ask

    return ask(address)


def check_config_data(config) -> None:
    """The data files a training config names exist."""
    from ..training.config import check_data_paths

    check_data_paths(config)


def describe_model(model) -> dict:
    """``{"task": "phdos" | "xas", "default_potential": NAME | None}`` from a model's checked ``model.json``
    (its weights are not read): the potential physics and hybrid modes use when none is chosen is the one the
    model's hybrid was fitted with."""
    from ..models.model_info import ModelInfo
    from ..models.serialization import read_model_info
    from .models import resolve_model_dir

    info = ModelInfo.from_dict(read_model_info(resolve_model_dir(model)))
    return {"task": info.task, "default_potential": info.physics_defaults.potential if info.task == "phdos" else None}
