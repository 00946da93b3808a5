"""Phonons along a path through the Brillouin zone: the dispersion, and the single-crystal S(Q, E) map, of one
structure in physics or hybrid mode. The path is checked before any force constant is computed."""

from __future__ import annotations

from .models import as_predictor
from .structures import resolve_structures

__all__ = ["dispersion", "single_crystal"]


def _predict_on_path(structure, path, option: str, model, name, physics, physics_cache, on_prediction):
    """(prediction, parsed path, frame): the structure read and the path resolved first, then predicted."""
    from ..data.structures import to_structure
    from ..errors import InputError
    from ..physics.q_path import path_frame, resolve_path

    (structure,), (name,) = resolve_structures([structure], [name])
    structure, name = to_structure(structure, name)
    frame = path_frame(structure)
    parsed = resolve_path(path, frame, option)
    predictor = as_predictor(model, **physics)
    if predictor.task != "phdos":
        raise InputError(option, "is for phonon-DOS models")
    predictor.use_physics_cache(physics_cache)
    prediction = predictor.predict([structure], [name])[0]
    if on_prediction is not None:
        on_prediction(prediction)
    return prediction, parsed, frame


def dispersion(structure, path: str | None = None, model="phdos", *, name: str | None = None, mode: str = "physics",
               potential: str | None = None, relax: bool | None = None, device: str | None = None,
               physics_cache=None, on_prediction=None):
    """Phonon branches of ``structure`` along ``path`` (None: seekpath's standard path; or ``"GAMMA -> X"`` /
    ``"0 0 0 -> 1 0 0"`` in r.l.u. of the conventional cell). Returns ``(prediction, Dispersion)``;
    ``on_prediction(prediction)`` is called as soon as the force constants exist."""
    from ..physics.dispersion import phonon_dispersion

    prediction, parsed, frame = _predict_on_path(
        structure, path, "--q-path", model, name,
        dict(mode=mode, potential=potential, relax=relax, device=device), physics_cache, on_prediction)
    return prediction, phonon_dispersion(prediction.force_constants, prediction.structure, parsed, frame,
                                         prediction.name)


def single_crystal(structure, path: str, model="phdos", *, ei_mev: float | None = None, temperature_k: float = 300.0,
                   resolution=None, name: str | None = None, mode: str = "physics", potential: str | None = None,
                   relax: bool | None = None, device: str | None = None, physics_cache=None, on_prediction=None):
    """The coherent one-phonon S(Q, E) of a single crystal along ``path`` (as for :func:`dispersion`, or a
    file of ``H K L [LABEL]`` lines), on energies up to ``ei_mev`` (or the band top) on the gain side too,
    at ``temperature_k`` with the energy ``resolution``. Returns ``(prediction, SingleCrystalMap)``."""
    from ..physics.neutron import map_energies
    from ..physics.q_path import sample_path
    from ..physics.single_crystal import single_crystal_map

    prediction, parsed, frame = _predict_on_path(
        structure, path, "--sqe-path", model, name,
        dict(mode=mode, potential=potential, relax=relax, device=device), physics_cache, on_prediction)
    energies = map_energies(ei_mev, float(prediction.full_range.energy_mev[-1]), gain_side=True)
    return prediction, single_crystal_map(prediction.force_constants, sample_path(parsed), frame, energies,
                                          temperature_k, resolution, name=prediction.name, path_text=parsed.text)
