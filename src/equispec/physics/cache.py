"""On-disk cache of force-constant phonon DOS, one small ``.npz`` per structure, so that scoring many
materials in physics or hybrid mode (seconds to minutes each) resumes after an interruption and a rerun
computes nothing it has computed before.

What is stored is the raw tetrahedron DOS at unscaled frequencies (``raw_freq_cm1``, ``raw_dos`` of
:class:`~equispec.physics.PhysicsDos`) with the forces on the displaced supercells it came from (and the relaxed
positions with ``relax``), or the one-line reason the computation failed for that structure. ``evaluate`` reads
the DOS; ``predict --mode physics|hybrid`` rebuilds the force constants from the forces (no potential call, the
same bits as the first run) for the partial, full-range and neutron spectra.
A frequency scale (the hybrid's) is applied on reading (:func:`scaled_label`), as ``scripts/recipes/fit_hybrid.py``
does, so one cache serves the physics mode and every hybrid fitted on the same potential.

Layout: ``ROOT/<config digest>/<structure sha256>.npz``. The config digest covers everything besides the
structure that decides the raw DOS: the physics settings (frequency scale excluded), the potential's sevenn
version and checkpoint sha256, phonopy's version and this file's format; any change gives a new folder, so a
stale DOS is never read. Each folder holds a ``config.json`` saying what it was computed with. Files are
written whole (:func:`~equispec.io.files.atomic_write`) and read without pickle; an unreadable one is simply
computed again, with a one-line note.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Iterator

import numpy as np
from pymatgen.core import Structure
from tqdm.auto import tqdm

from ..data.datasets import structure_sha256
from ..data.phdos_processing import process_raw_dos
from ..errors import InputError, ModelError
from ..io.files import atomic_savez, atomic_write
from .phonopy_dos import PhysicsDosSettings, physics_dos, scale_frequencies

__all__ = ["FORMAT_VERSION", "RawPhysicsDos", "PhysicsDosCache", "default_physics_cache_dir", "scaled_label",
           "compute_raw_dos", "raw_physics_dos", "iter_raw_dos", "raw_dos_many", "physics_from_raw",
           "cached_physics_dos", "physics_config"]

#: Version of the file layout below; bump it when what is stored changes.
FORMAT_VERSION = 1


def default_physics_cache_dir() -> Path:
    """``physics/`` under equispec's cache folder (``EQUISPEC_CACHE_DIR`` or ``~/.cache/equispec``)."""
    from ..io.files import cache_root

    return cache_root() / "physics"


def scaled_label(freq_cm1, dos, scale: float = 1.0, name: str = "physics DOS") -> np.ndarray:
    """The 51-bin label of a raw DOS with every frequency multiplied by ``scale`` (the density divided by
    it, so the number of modes stays 3N). Raises ``InputError`` when nothing is left on 0-1000 cm^-1."""
    return process_raw_dos(*scale_frequencies(freq_cm1, dos, scale), name)


@dataclass
class RawPhysicsDos:
    """A force-constant DOS before the label processing, or why it could not be computed.

    Attributes:
        freq_cm1: (n,) phonopy's grid at unscaled frequencies (1 cm^-1 steps); None after a failure.
        dos: (n,) states per cm^-1 per cell; None after a failure.
        info: imaginary_fraction, min_frequency_cm1, seconds, supercell, num_displacements, num_atoms.
        error: the problem (without the input's name) when the computation failed, else None.
        forces: (n_displacements, n_supercell_atoms, 3) forces in eV/Å on phonopy's displaced supercells, or
            None (entries written before they were kept, failures).
        relaxed_frac_coords: (n_atoms, 3) positions after the relaxation (``relax`` settings), else None.
    """

    freq_cm1: np.ndarray | None
    dos: np.ndarray | None
    info: dict = field(default_factory=dict)
    error: str | None = None
    forces: np.ndarray | None = None
    relaxed_frac_coords: np.ndarray | None = None

    def label(self, scale: float = 1.0, name: str = "physics DOS") -> np.ndarray:
        """(51,) DOS on the label grid with frequencies times ``scale``."""
        if self.error is not None:
            raise InputError(name, self.error)
        return scaled_label(self.freq_cm1, self.dos, scale, name)


def compute_raw_dos(structure: Structure, name: str, settings: PhysicsDosSettings, device: str = "cpu"
                    ) -> RawPhysicsDos:
    """The raw total DOS of one structure at frequency scale 1 (no partial DOS: scoring needs the total only).

    A structure the computation fails on (``InputError``: non-finite forces, a relaxation that does not
    converge, no real modes) gives a record with ``error`` set, which is as final as a DOS and is cached
    like one. Environment problems (``ModelError``: phonopy or sevenn missing) propagate.
    """
    try:
        result = physics_dos(structure, name=name, settings=replace(settings, frequency_scale=1.0), partial=False,
                             device=device)
    except InputError as exc:
        return RawPhysicsDos(None, None, {"num_atoms": len(structure)}, exc.problem)
    info = {"imaginary_fraction": result.imaginary_fraction, "min_frequency_cm1": result.min_frequency_cm1,
            "seconds": result.seconds, "supercell": result.supercell,
            "num_displacements": result.num_displacements, "num_atoms": len(structure)}
    relaxed = np.asarray(result.structure.frac_coords, float) if settings.relax else None
    return RawPhysicsDos(result.raw_freq_cm1, result.raw_dos, info, forces=getattr(result.phonon, "raw_forces", None),
                         relaxed_frac_coords=relaxed)


def physics_config(settings: PhysicsDosSettings) -> dict:
    """Everything besides the structure that decides the raw DOS: the cache key, and what physics outputs
    record about the potential (its name, package version and weights sha256, hashed once per process) and
    phonopy."""
    from importlib.metadata import PackageNotFoundError, version

    from .forces import potential_record

    try:
        phonopy_version = version("phonopy")
    except PackageNotFoundError:
        raise ModelError("physics", "needs phonopy: pip install 'equispec[physics]'") from None
    resolved = replace(settings, frequency_scale=1.0, supercell_ang=settings.supercell_length_ang())
    return {"format": FORMAT_VERSION, "settings": asdict(resolved),
            "potential": potential_record(settings.potential), "phonopy_version": phonopy_version}


class PhysicsDosCache:
    """Raw physics DOS of one configuration (``settings``) under ``root``, one file per structure."""

    def __init__(self, root: str | os.PathLike, settings: PhysicsDosSettings):
        self.config = physics_config(settings)
        digest = hashlib.sha256(json.dumps(self.config, sort_keys=True).encode()).hexdigest()
        self.folder = Path(root) / digest[:16]
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            config_file = self.folder / "config.json"
            if not config_file.is_file():
                text = json.dumps(self.config, indent=1, sort_keys=True) + "\n"
                atomic_write(config_file, lambda tmp: Path(tmp).write_text(text))
        except OSError as exc:  # checked before any computation, so that a bad --cache fails at once
            raise InputError(str(root), f"cannot write the physics cache here ({exc.strerror or exc})") from None

    def path(self, structure: Structure) -> Path:
        return self.folder / f"{structure_sha256(structure)[:32]}.npz"

    def get(self, structure: Structure) -> RawPhysicsDos | None:
        """The stored record, or None when absent or unreadable. An entry that is there but cannot be read
        (truncated, overwritten, another layout) is noted in one line on stderr and computed again."""
        path = self.path(structure)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as archive:
                info = json.loads(str(archive["info"]))
                if info.pop("structure_sha256") != structure_sha256(structure):
                    raise ValueError("written for another structure")
                error = info.pop("error", None)
                if error is not None:
                    return RawPhysicsDos(None, None, info, error)
                optional = {key: np.asarray(archive[key], float) for key in ("forces", "relaxed_frac_coords")
                            if key in archive.files}
                return RawPhysicsDos(np.asarray(archive["freq_cm1"], float), np.asarray(archive["dos"], float), info,
                                     **optional)
        except Exception as exc:  # noqa: BLE001 - zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError, ...
            reason = " ".join(str(exc).split())[:80] or type(exc).__name__
            tqdm.write(f"equispec: note: {path}: unreadable physics-cache entry ({reason}); computing it again",
                       file=sys.stderr)
            return None

    def put(self, structure: Structure, raw: RawPhysicsDos, name: str | None = None) -> None:
        """Store ``raw`` for ``structure`` (``name``, e.g. the mp-id, is kept for people reading the file)."""
        info = {**raw.info, "structure_sha256": structure_sha256(structure), "name": name}
        arrays = {"info": np.array(json.dumps({**info, "error": raw.error} if raw.error is not None else info))}
        if raw.error is None:
            arrays.update(freq_cm1=np.asarray(raw.freq_cm1, dtype=float), dos=np.asarray(raw.dos, dtype=float))
            for key in ("forces", "relaxed_frac_coords"):
                if getattr(raw, key) is not None:
                    arrays[key] = np.asarray(getattr(raw, key), dtype=float)
        atomic_savez(self.path(structure), arrays)


def raw_physics_dos(structure: Structure, name: str, settings: PhysicsDosSettings,
                    cache: PhysicsDosCache | None = None, device: str = "cpu", need_forces: bool = False
                    ) -> RawPhysicsDos:
    """The one way a structure's physics DOS is made: read from ``cache`` where it is stored, else computed by
    :func:`compute_raw_dos` (forces, raw DOS, or the failure) and stored the moment it is done.
    ``need_forces``: an entry written before forces were kept is computed again."""
    raw = cache.get(structure) if cache is not None else None
    if _needs_computing(raw, need_forces):
        raw = _computed(structure, name, settings, cache, device)
    return raw


def _computed(structure: Structure, name: str, settings: PhysicsDosSettings, cache: PhysicsDosCache | None,
              device: str) -> RawPhysicsDos:
    raw = compute_raw_dos(structure, name, settings, device)
    if cache is not None:
        cache.put(structure, raw, name)
    return raw


def _needs_computing(raw: RawPhysicsDos | None, need_forces: bool) -> bool:
    """An entry that is absent, or (``need_forces``) a DOS stored before its forces were kept."""
    return raw is None or (need_forces and raw.error is None and raw.forces is None)


def iter_raw_dos(structures: list[Structure], names: list[str], settings: PhysicsDosSettings,
                 cache: PhysicsDosCache | None = None, progress: bool = False, device: str = "cpu", engine=None,
                 need_forces: bool = False, report: dict | None = None) -> Iterator[RawPhysicsDos]:
    """:func:`raw_physics_dos` of many structures, yielded in their order, each as soon as it and those before
    it are there.

    What ``cache`` holds is read first; the rest is computed by :func:`compute_raw_dos` on ``engine``: None (in
    this process, one after the other, as they are asked for), an open engine of :mod:`equispec.engines`, or
    an :class:`~equispec.engines.EngineChoice` (opened for the structures to compute, closed at the end: in this
    process when that is one). Each result is stored in ``cache`` by this process the moment it arrives, so an
    interruption or a lost worker loses nothing finished, and a rerun computes only what is missing.
    ``report``: filled with ``cached``, ``computed`` and ``engine`` (what ran them).
    """
    from ..engines import EngineChoice

    records = [cache.get(s) if cache is not None else None for s in structures]
    todo = [i for i, record in enumerate(records) if _needs_computing(record, need_forces)]
    owned = isinstance(engine, EngineChoice)
    runner = engine.open(len(todo)) if owned else engine
    if report is not None:
        report.update(cached=len(records) - len(todo), computed=0,
                      engine=getattr(runner, "name", None) or "this process")
    bar = tqdm(total=len(todo), desc="physics DOS", unit="structure", disable=not progress or not todo)
    bar.set_postfix(cached=len(records) - len(todo), refresh=False)
    results = None

    def arrived(i: int, raw: RawPhysicsDos) -> RawPhysicsDos:
        if cache is not None:
            cache.put(structures[i], raw, names[i])
        records[i] = raw
        bar.update(1)
        if report is not None:
            report["computed"] += 1
        return raw

    try:
        if runner is None:
            missing = set(todo)
            for i, record in enumerate(records):
                yield arrived(i, compute_raw_dos(structures[i], names[i], settings, device)) if i in missing else record
            return
        waiting, done = set(todo), 0

        def ready():  # the records, in order, up to the first still being computed
            nonlocal done
            while done < len(records) and done not in waiting:
                record, records[done] = records[done], None  # handed out: not kept here any longer
                done += 1
                yield record

        yield from ready()
        results = runner.map_unordered(compute_raw_dos, [(structures[i], names[i], settings, device) for i in todo])
        for k, raw in results:
            arrived(todo[k], raw)
            waiting.discard(todo[k])
            yield from ready()
    finally:
        if results is not None:
            results.close()  # what is still queued is cancelled
        bar.close()
        if owned and runner is not None:
            runner.close()


def raw_dos_many(structures: list[Structure], names: list[str], settings: PhysicsDosSettings,
                 cache: PhysicsDosCache | None = None, progress: bool = False, device: str = "cpu", engine=None,
                 need_forces: bool = False, report: dict | None = None) -> list[RawPhysicsDos]:
    """:func:`raw_physics_dos` of many structures, with a progress bar and ETA over those not cached, computed
    on ``engine`` (see :func:`iter_raw_dos`, which this collects)."""
    return list(iter_raw_dos(structures, names, settings, cache, progress, device, engine, need_forces, report))


def physics_from_raw(structure: Structure, name: str, settings: PhysicsDosSettings, raw: RawPhysicsDos):
    """:func:`~equispec.physics.physics_dos` (partial and full-range DOS, force constants) rebuilt from the
    forces of ``raw`` (no potential call). A failure stored in it is raised again as the ``InputError`` it was."""
    if raw.error is not None:
        raise InputError(name, raw.error)
    return physics_dos(structure, name=name, settings=settings, forces=raw.forces,
                       relaxed_frac_coords=raw.relaxed_frac_coords)


def cached_physics_dos(structure: Structure, name: str, settings: PhysicsDosSettings,
                       cache: PhysicsDosCache | None = None, device: str = "cpu"):
    """:func:`~equispec.physics.physics_dos` (partial and full-range DOS, force constants) from the forces of
    :func:`raw_physics_dos`: a cached entry gives the force constants without calling the potential. A
    failure stored in the entry is raised again as the ``InputError`` it was."""
    raw = raw_physics_dos(structure, name, settings, cache, device, need_forces=True)
    return physics_from_raw(structure, name, settings, raw)
