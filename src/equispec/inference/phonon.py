"""Phonon DOS from structures: the network (fast), universal-potential force constants (physics), or both
combined (hybrid); scored on labelled CSVs in any of the three modes."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from pymatgen.core import Structure
from tqdm.auto import tqdm

from .. import keys
from ..data.datasets import build_graphs, read_ids, read_phdos_csv
from ..engines import EngineChoice
from ..errors import InputError, ModelError
from ..io.units import CM1_PER_THZ
from ..metrics import spectrum_metrics
from ..models.hybrid import combine_dos, hybrid_rows, network_weights
from ..models.model_info import ModelInfo
from .base import Predictor, grid_matches

if TYPE_CHECKING:
    from pymatgen.phonon.dos import PhononDos

    from ..physics.thermo import PhononThermodynamics

__all__ = ["MODES", "PHONON_MODES", "FastMode", "HybridMode", "PhononDosPrediction", "PhononDosPredictor",
           "PhononMode", "PhysicsMode"]


@dataclass
class PhononDosPrediction:
    """Predicted phonon DOS of one structure.

    Attributes:
        name: file name or formula of the input.
        structure: the structure that was predicted.
        freq_cm1: (n_bins,) frequency grid in cm^-1.
        dos: (n_bins,) total DOS, max-normalised like the training data.
        partial_dos: element symbol -> (n_bins,) contribution of that element; they add up to ``dos``.
        dos_std: (n_bins,) spread (population standard deviation) of the ensemble members' DOS on the scale
            of ``dos``, or None for a single model. It measures how much independently trained members
            disagree, not the distance to the truth; see the README for how often ``dos ± 2 dos_std`` covers
            the DFPT DOS on the validation split.
        mode: ``fast`` (the network), ``physics`` (universal-potential forces + phonopy) or ``hybrid`` (both, combined).
        imaginary_fraction: physics and hybrid modes: share of q-mesh modes below -10 cm^-1 (0 for a
            structure the potential finds dynamically stable); None in fast mode.
        full_range: physics and hybrid modes: the force-constant DOS over the material's whole frequency
            range at native resolution (``equispec.physics.FullRangeDos``, meV, states/meV, no smoothing);
            None in fast mode, whose DOS exists on the 51-bin label grid only.
        force_constants: physics and hybrid modes: the ``phonopy.Phonopy`` object (for ``ins``).
        reliability: fast mode with a calibrated ensemble: the expected error of this prediction and its
            percentile among the valid materials (``equispec.models.calibration.Reliability``); else None.
        physics: physics and hybrid modes: how the force constants were made (potential and its record:
            checkpoint, package version, weights sha256; phonopy's version, supercell, displacement,
            relaxation, frequency scale); else None.
    """

    name: str
    structure: Structure
    freq_cm1: np.ndarray
    dos: np.ndarray
    partial_dos: dict = field(default_factory=dict)
    dos_std: np.ndarray | None = None
    mode: str = "fast"
    imaginary_fraction: float | None = None
    full_range: object = None
    force_constants: object = field(default=None, repr=False)
    reliability: object = None
    physics: dict | None = None

    @property
    def dos_band(self) -> np.ndarray | None:
        """(n_bins,) half-width of the calibrated ±2σ band (``2 k dos_std``, k from the valid split), or None."""
        if self.dos_std is None or self.reliability is None:
            return None
        return 2.0 * self.reliability.sigma_scale * self.dos_std

    @property
    def phonon_dos(self) -> PhononDos:
        """pymatgen ``PhononDos`` (frequencies in THz; densities max-normalised, not states/THz)."""
        from pymatgen.phonon.dos import PhononDos  # imported on use: it pulls in plotting (~1 s at start-up)

        return PhononDos(self.freq_cm1 / CM1_PER_THZ, self.dos)

    @property
    def full_phonon_dos(self) -> PhononDos | None:
        """pymatgen ``PhononDos`` of the full-range DOS (THz, states/THz per cell); None in fast mode."""
        return None if self.full_range is None else self.full_range.phonon_dos

    def ins(self, ei_mev: float | None = None, temperature_k: float = 300.0, resolution=None, **options):
        """Inelastic neutron scattering as an instrument sees it: see ``equispec.physics.neutron.ins_spectra``
        (physics/hybrid modes: neutron-weighted DOS and powder S(|Q|, E) from the force constants; fast mode:
        the neutron-weighted DOS of the network's partial DOS on its 51-bin grid, incoherent approximation)."""
        from ..physics.neutron import ins_spectra

        return ins_spectra(self, ei_mev=ei_mev, temperature_k=temperature_k, resolution=resolution, **options)

    def dispersion(self, path: str | None = None):
        """Phonon branches of the force constants (physics/hybrid modes) along ``path``: None for seekpath's
        standard path, or ``"GAMMA -> X -> L"`` / ``"0 0 0 -> 1 0 0 | ..."`` in r.l.u. of the conventional cell.
        Returns ``equispec.physics.dispersion.Dispersion`` (``.band_structure`` is pymatgen's)."""
        from ..physics.dispersion import phonon_dispersion

        return phonon_dispersion(self.force_constants, self.structure, path, name=self.name)

    def band_structure(self, path: str | None = None):
        """pymatgen ``PhononBandStructureSymmLine`` (THz) along ``path`` (see :meth:`dispersion`)."""
        return self.dispersion(path).band_structure

    def single_crystal_map(self, path: str, energy_mev, temperature_k: float = 300.0, resolution=None):
        """Coherent one-phonon S(Q, E) of a single crystal along ``path`` (as in :meth:`dispersion`, or a file of
        ``H K L [LABEL]`` lines; physics/hybrid modes) on the energies ``energy_mev`` (meV, negative: neutron energy gain), with the energy
        ``resolution`` (FWHM in meV, polynomial, callable or None for native); see
        ``equispec.physics.single_crystal.single_crystal_map``."""
        from ..physics.q_path import path_frame, resolve_path, sample_path
        from ..physics.single_crystal import single_crystal_map

        frame = path_frame(self.structure)
        parsed = resolve_path(path, frame, "path")
        return single_crystal_map(self.force_constants, sample_path(parsed), frame, np.asarray(energy_mev, float),
                                  temperature_k, resolution, name=self.name, path_text=parsed.text)

    def thermodynamics(self, temperatures_k) -> "PhononThermodynamics":
        """Heat capacity, entropy, Helmholtz free energy and mean frequency of this DOS, per mole of atoms
        (``.per_formula_unit()`` converts); see ``equispec.physics.thermo.phonon_thermodynamics``.

        Args:
            temperatures_k: temperature or (n_t,) temperatures in K, all > 0.
        """
        from ..physics.thermo import phonon_thermodynamics

        return phonon_thermodynamics(self.freq_cm1, self.dos, temperatures_k, self.structure)

    def to_dict(self) -> dict:
        record = {"name": self.name, "formula": self.structure.composition.reduced_formula,
                  "freq_cm1": self.freq_cm1.tolist(), "dos": self.dos.tolist()}
        if self.dos_std is not None:
            record["dos_std"] = self.dos_std.tolist()
        record["partial_dos"] = {el: v.tolist() for el, v in self.partial_dos.items()}
        if self.reliability is not None:
            record["reliability"] = self.reliability.to_dict()
        if self.mode != "fast":
            record["mode"] = self.mode
            record["imaginary_fraction"] = self.imaginary_fraction
        if self.physics is not None:
            record["physics"] = dict(self.physics)
        if self.full_range is not None:
            record["full_range"] = self.full_range.to_dict()
        return record


class PhononMode:
    """How a phonon-DOS predictor makes its DOS: one subclass per ``--mode``, each owning its predict and
    evaluate paths. ``uses_network``: whether the mode runs the network (physics mode loads no weights);
    ``uses_physics``: whether it computes force constants (a potential, a physics cache, an engine);
    ``uses_hybrid``: whether it applies the model's hybrid calibration (which fixes the potential and
    frequency scale); ``physics_failure``: what evaluate does with a material whose physics DOS failed."""

    name = ""
    uses_network = True
    uses_physics = True
    uses_hybrid = False
    physics_failure = ""

    def predict(self, predictor: "PhononDosPredictor", structures: list[Structure], labels: list[str],
                batch_size: int, raws: list | None = None) -> list[PhononDosPrediction]:
        """``raws``: physics and hybrid modes: each structure's raw physics DOS with its forces
        (:class:`~equispec.physics.cache.RawPhysicsDos`) when they are at hand; None: computed here."""
        raise NotImplementedError

    def evaluate(self, predictor: "PhononDosPredictor", table, labels: list[str], source: str, batch_size: int,
                 progress: bool, cache) -> tuple[dict, list[str], np.ndarray]:
        raise NotImplementedError


class FastMode(PhononMode):
    """The network alone: milliseconds per structure, on the 51-bin label grid."""

    name = "fast"
    uses_physics = False

    def predict(self, predictor, structures, labels, batch_size, raws=None):
        return predictor._predict_network(structures, labels, batch_size)

    def evaluate(self, predictor, table, labels, source, batch_size, progress, cache):
        graphs = predictor.graphs(table.structures, labels, progress)
        predictions, _ = predictor.predict_graphs(graphs, batch_size, progress)
        return spectrum_metrics(predictor.freq_cm1, table.dos, predictions), table.ids, predictions


class PhysicsMode(PhononMode):
    """Universal-potential force constants and phonopy (``equispec.physics``): seconds per structure; the
    network is neither loaded nor run."""

    name = "physics"
    uses_network = False
    physics_failure = "left out of the score"

    def predict(self, predictor, structures, labels, batch_size, raws=None):
        return [predictor._physics_prediction(physics, label, physics.dos, physics.partial_dos, self.name)
                for physics, label in zip(predictor._physics_results(structures, labels, raws), labels)]

    def evaluate(self, predictor, table, labels, source, batch_size, progress, cache):
        predictions, _ = predictor._physics_rows(table.structures, labels, cache, progress)
        scored = ~np.isnan(predictions).any(axis=1)
        if not scored.any():
            raise InputError(source, f"the physics DOS failed for all {len(labels)} materials: nothing to score")
        metrics = spectrum_metrics(predictor.freq_cm1, table.dos[scored], predictions[scored])
        ids = [mp_id for mp_id, ok in zip(table.ids, scored) if ok]
        return {**metrics, "physics_failed": int((~scored).sum())}, ids, predictions[scored]


class HybridMode(PhononMode):
    """Network and physics combined as the model's :class:`~equispec.models.model_info.HybridCalibration`
    says (frequency scale; fixed or learned network weight)."""

    name = "hybrid"
    uses_hybrid = True
    physics_failure = "scored by the network alone"

    def predict(self, predictor, structures, labels, batch_size, raws=None):
        graphs = predictor.graphs(structures, labels)
        fast = predictor._predict_network(structures, labels, batch_size, graphs)
        physics_results = predictor._physics_results(structures, labels, raws)
        weights = predictor._network_weights(graphs, np.stack([f.dos for f in fast]),
                                             np.stack([p.dos for p in physics_results]),
                                             [p.imaginary_fraction for p in physics_results], structures)
        results = []
        for k, (physics, label) in enumerate(zip(physics_results, labels)):
            dos, partial = combine_dos(fast[k].dos, fast[k].partial_dos, physics.dos, physics.partial_dos, weights[k])
            results.append(predictor._physics_prediction(physics, label, dos, partial, self.name))
        return results

    def evaluate(self, predictor, table, labels, source, batch_size, progress, cache):
        graphs = predictor.graphs(table.structures, labels, progress)
        predictions, _ = predictor.predict_graphs(graphs, batch_size, progress)
        physics, imaginary = predictor._physics_rows(table.structures, labels, cache, progress)
        weights = predictor._network_weights(graphs, predictions, physics, imaginary, table.structures)
        predictions = hybrid_rows(predictions, physics, weights)
        failed = int(np.isnan(physics).any(axis=1).sum())
        return {**spectrum_metrics(predictor.freq_cm1, table.dos, predictions), "physics_failed": failed}, \
            table.ids, predictions


#: ``--mode`` -> its strategy.
MODES: dict[str, type[PhononMode]] = {mode.name: mode for mode in (FastMode, PhysicsMode, HybridMode)}
PHONON_MODES = tuple(MODES)


class PhononDosPredictor(Predictor):
    """A loaded phonon-DOS model with the grid, element list and cutoff it was trained with."""

    task = "phdos"

    def __init__(self, model: torch.nn.Module | None, info: ModelInfo | dict, name: str = "model", mode: str = "fast",
                 potential: str | None = None, relax: bool = False, device: str = "cpu"):
        if mode not in MODES:
            raise ModelError(mode, f"unknown mode (known: {', '.join(PHONON_MODES)})")
        super().__init__(model, info, name, device)
        self.freq_cm1 = self.info.grid.copy()
        self.strategy = strategy = MODES[mode]()
        if strategy.uses_hybrid and self.info.hybrid is None:
            raise ModelError(name, "this model has no hybrid calibration (scripts/recipes/fit_hybrid.py writes one)")
        if not strategy.uses_physics and (potential is not None or relax):
            raise ModelError("--potential", "a potential and --relax are for --mode physics or hybrid")
        if model is None and strategy.uses_network:
            raise ModelError(name, f"mode {mode} runs the network: load the model with its weights")
        self.physics_settings = self._physics_settings(potential, bool(relax)) if strategy.uses_physics else None
        self.physics_cache = None
        self.engine = EngineChoice()

    @property
    def mode(self) -> str:
        """The name of the mode's strategy (``fast``, ``physics`` or ``hybrid``)."""
        return self.strategy.name

    def use_physics_cache(self, folder: str | os.PathLike | None) -> None:
        """Physics/hybrid modes: read and write each structure's forces and raw DOS in ``folder`` (the
        :class:`~equispec.physics.cache.PhysicsDosCache` that ``evaluate`` uses), so that a rerun calls no
        potential; None: compute afresh. A folder that cannot be written fails here, before any work."""
        self.physics_cache = self._physics_cache_in(folder)

    def use_engine(self, scheduler: str | None = None, workers: int | None = None) -> None:
        """Physics/hybrid modes: where the physics DOS of several structures are computed. ``scheduler``: the
        address of an existing Dask cluster (``tcp://host:8786``, or its scheduler file); else a pool of
        ``workers`` local processes (None: one per core, at most one per structure to compute; 1: this process,
        one after the other). A single structure to compute runs in this process unless a scheduler is named.
        Each result is stored in the physics cache by this process as it arrives."""
        self.engine = EngineChoice(scheduler, workers)

    def _engine(self) -> EngineChoice:
        """:attr:`engine`, except that a GPU device is not shared between processes unless asked for."""
        engine = self.engine
        if engine.scheduler is None and engine.workers is None and self.device.type != "cpu":
            return EngineChoice(workers=1)
        return engine

    def _physics_cache_in(self, folder: str | os.PathLike | None):
        """The :class:`~equispec.physics.cache.PhysicsDosCache` of ``folder`` for this predictor's settings, or
        None (fast mode, or no folder)."""
        if not self.strategy.uses_physics or folder is None:
            return None
        from ..physics.cache import PhysicsDosCache

        return PhysicsDosCache(folder, self.physics_settings)

    def _physics_settings(self, potential: str | None, relax: bool):
        """How the force constants are computed (``equispec.physics``); checked before any input is read."""
        from ..physics.phonopy_dos import PhysicsDosSettings  # phonopy is imported on first use
        from ..nn.pretrained.table import check_installed, get_potential

        hybrid = self.info.physics_defaults
        fitted = (hybrid.potential, hybrid.relax)
        chosen = get_potential(potential or fitted[0])
        check_installed(chosen)  # a missing extra fails here, before any structure is read
        potential = chosen.name
        if self.strategy.uses_hybrid and (potential, relax) != fitted:  # the frequency scale belongs to its potential
            raise ModelError(self.name, f"the hybrid was fitted for potential {fitted[0]} "
                                        f"{'with' if fitted[1] else 'without'} relaxation; use those settings")
        scale = hybrid.frequency_scale if self.strategy.uses_hybrid else 1.0
        return PhysicsDosSettings(frequency_scale=scale, potential=potential, relax=relax)

    def graphs(self, structures: list[Structure], labels: list[str], progress: bool = False,
               ids: list[str] | None = None, feature_cache: str | os.PathLike | None = None) -> list:
        """The model's graphs for checked structures (with pretrained features where the model uses them;
        ``ids`` and ``feature_cache`` as in :meth:`Predictor.features`)."""
        return build_graphs(structures, self.cutoff_ang, labels, progress=progress,
                            pretrained=self.features(structures, progress, ids, feature_cache), pyg=False)

    def predict_graphs(self, graphs: list, batch_size: int = 64, progress: bool = False, with_std: bool = False):
        """Run the model on pre-built graphs. Returns (n, n_bins) total DOS and a list of per-atom arrays
        (and, with ``with_std``, the (n, n_bins) ensemble spread, or None for a single model)."""
        totals, per_atom, spread = [], [], []
        for batch, out in self._batches(graphs, batch_size, progress):
            totals.append(out[keys.GRAPH_OUTPUT].cpu().numpy())
            if keys.GRAPH_OUTPUT_STD in out:
                spread.append(out[keys.GRAPH_OUTPUT_STD].cpu().numpy())
            nodes = out[keys.NODE_OUTPUT].cpu().numpy()
            splits = np.cumsum(np.bincount(batch[keys.BATCH].cpu().numpy(), minlength=len(totals[-1])))[:-1]
            per_atom.extend(np.split(nodes, splits))
        totals = np.concatenate(totals).astype(float)
        if with_std:
            return totals, per_atom, np.concatenate(spread).astype(float) if spread else None
        return totals, per_atom

    def member_predictions(self, graphs: list, members: list[int], batch_size: int = 64) -> np.ndarray:
        """(len(members), n, n_bins) total DOS of chosen ensemble members (the learned hybrid's spread)."""
        ensemble = getattr(self.model, "members", None)
        if ensemble is None or max(members) >= len(ensemble):
            raise ModelError(self.name, f"has no ensemble members {members}")
        out = [[] for _ in members]
        run = lambda batch: [ensemble[m](batch)[keys.GRAPH_OUTPUT] for m in members]  # noqa: E731
        for _, outputs in self._batches(graphs, batch_size, False, run):
            for j, output in enumerate(outputs):
                out[j].append(output.cpu().numpy())
        return np.stack([np.concatenate(o) for o in out]).astype(float)

    def _network_weights(self, graphs: list, network: np.ndarray, physics: np.ndarray, imaginary_fraction,
                         structures: list[Structure]) -> list:
        """Per structure, the hybrid's network weight: the fixed one, or per bin from the learned hybrid."""
        return network_weights(self.info.hybrid, network, physics, imaginary_fraction,
                               [[el.symbol for el in s.composition.elements] for s in structures],
                               spread=lambda members: self.member_predictions(graphs, members).std(0))

    def _predict_checked(self, checked: list[Structure], labels: list[str], batch_size: int
                         ) -> list[PhononDosPrediction]:
        return self.strategy.predict(self, checked, labels, batch_size)

    def _physics_results(self, structures: list[Structure], labels: list[str], raws: list | None = None) -> list:
        """``equispec.physics.PhysicsDos`` of each structure, rebuilt in this process from the forces of its raw
        physics DOS (``raws``, else :func:`~equispec.physics.cache.raw_dos_many` through the physics cache and
        the engine: the one physics path, as :meth:`_physics_rows` takes it)."""
        from ..physics.cache import physics_from_raw, raw_dos_many

        if raws is None:
            raws = raw_dos_many(structures, labels, self.physics_settings, self.physics_cache,
                                device=str(self.device), engine=self._engine(), need_forces=True)
        return [physics_from_raw(structure, label, self.physics_settings, raw)
                for structure, label, raw in zip(structures, labels, raws)]

    def _predicted_chunks(self, checked: list[Structure], labels: list[str], batch_size: int, chunk_size: int):
        """Physics and hybrid modes: the raw physics DOS of all structures at once (on the engine, as they
        complete), each structure's prediction as soon as it and those before it are there."""
        if not self.strategy.uses_physics:
            yield from super()._predicted_chunks(checked, labels, batch_size, chunk_size)
            return
        from ..physics.cache import iter_raw_dos

        raws = iter_raw_dos(checked, labels, self.physics_settings, self.physics_cache, device=str(self.device),
                            engine=self._engine(), need_forces=True)
        try:
            for k, raw in enumerate(raws):
                yield self.strategy.predict(self, checked[k:k + 1], labels[k:k + 1], batch_size, [raw]), 1
        finally:
            raws.close()  # an interrupted stream stops the engine

    def _physics_prediction(self, physics, label: str, dos: np.ndarray, partial: dict, mode: str
                            ) -> PhononDosPrediction:
        return PhononDosPrediction(label, physics.structure, self.freq_cm1.copy(), dos, partial, None, mode,
                                   physics.imaginary_fraction, physics.full_range, physics.phonon,
                                   physics=self._physics_record(physics))

    def _physics_record(self, physics) -> dict:
        """What an output of physics or hybrid mode says about the force constants behind it."""
        from ..physics.cache import physics_config

        settings = self.physics_settings
        config = physics_config(settings)  # what the physics cache is keyed by
        return {"potential": settings.potential, "potential_record": dict(config["potential"]),
                "phonopy_version": config["phonopy_version"], "supercell": list(physics.supercell),
                "displacement_ang": settings.displacement_ang, "num_displacements": physics.num_displacements,
                "displacements": settings.displacements,
                "device": str(self.device),
                "relax": settings.relax, "frequency_scale": settings.frequency_scale,
                "mesh_length_ang": settings.mesh_length_ang}

    def _predict_network(self, checked: list[Structure], labels: list[str], batch_size: int, graphs: list | None = None
                         ) -> list[PhononDosPrediction]:
        graphs = graphs if graphs is not None else self.graphs(checked, labels)
        totals, per_atom, spread = self.predict_graphs(graphs, batch_size, with_std=True)
        results = []
        for i, (label, structure, total, atoms) in enumerate(zip(labels, checked, totals, per_atom)):
            partial = {}
            for site, contribution in zip(structure, atoms):
                symbol = site.specie.symbol
                partial[symbol] = partial.get(symbol, 0.0) + contribution.astype(float)
            calibration = self.info.spread_calibration
            reliability = None if spread is None or calibration is None else calibration.reliability(spread[i])
            results.append(PhononDosPrediction(label, structure, self.freq_cm1.copy(), total, partial,
                                               None if spread is None else spread[i], reliability=reliability))
        return results

    def labelled_table(self, csv_path: str | os.PathLike, ids_path: str | os.PathLike | None = None):
        """A labelled phonon-DOS CSV (optionally restricted to an id list) checked against this model:
        returns (table, one label per material). Raises ``InputError`` naming the file and the problem."""
        table = read_phdos_csv(csv_path)
        if table.dos is None:
            raise InputError(str(csv_path), "has no phfreq/phdos columns: nothing to score against")
        if not grid_matches(table.freq_cm1, self.freq_cm1):
            raise InputError(str(csv_path), "frequency grid differs from the model's")
        if ids_path is not None:
            table = table.subset(read_ids(ids_path), str(ids_path))
        labels = [f"{csv_path}: {mp_id}" for mp_id in table.ids]
        for structure, label in zip(table.structures, labels):
            self.check_elements(structure, label)
        return table, labels

    def evaluate(self, csv_path: str | os.PathLike, ids_path: str | os.PathLike | None = None,
                 batch_size: int = 64, progress: bool = False, physics_cache: str | os.PathLike | None = None
                 ) -> tuple[dict, list[str], np.ndarray]:
        """Score on a labelled CSV (optionally restricted to an id list) in this predictor's mode.
        Returns (metrics, ids scored, predictions).

        Physics and hybrid modes score what ``predict`` returns in those modes, from the same raw physics DOS:
        it is computed at frequency scale 1 and the hybrid's scale applied to it afterwards (as
        ``scripts/recipes/fit_hybrid.py`` does), and the hybrid's network weight is the model's (fixed or learned). A
        material whose physics computation fails is left out of the physics score and scored by the network
        alone in the hybrid one. Each failure is noted on stderr and counted in ``metrics["physics_failed"]``.
        ``physics_cache``: folder of :class:`~equispec.physics.cache.PhysicsDosCache` (None: no cache), so
        that an interrupted run resumes and a rerun computes nothing again.
        """
        table, labels = self.labelled_table(csv_path, ids_path)
        cache = self._physics_cache_in(physics_cache)  # a bad folder fails before any computation
        return self.strategy.evaluate(self, table, labels, str(csv_path), batch_size, progress, cache)

    def _physics_rows(self, structures: list[Structure], labels: list[str], cache, progress: bool
                      ) -> tuple[np.ndarray, np.ndarray]:
        """(n, n_bins) physics DOS at this predictor's frequency scale and (n,) imaginary fractions; NaN
        where the computation failed (noted on stderr)."""
        from ..physics.cache import raw_dos_many

        settings = self.physics_settings
        rows = np.full((len(structures), len(self.freq_cm1)), np.nan)
        imaginary = np.full(len(structures), np.nan)
        for i, raw in enumerate(raw_dos_many(structures, labels, settings, cache, progress, str(self.device),
                                             engine=self._engine())):
            imaginary[i] = raw.info.get("imaginary_fraction", np.nan)
            try:
                rows[i] = raw.label(settings.frequency_scale, labels[i])
            except InputError as exc:
                tqdm.write(f"equispec: note: {exc} (physics DOS failed; {self.strategy.physics_failure})",
                           file=sys.stderr)
        return rows, imaginary


