"""Python API: ``load_model(name_or_dir).predict(structures)`` returns results holding pymatgen objects."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from pymatgen.core import Element, Structure
from torch_geometric.loader import DataLoader
from tqdm.auto import tqdm

from . import keys
from .data.datasets import build_graphs, pretrained_features, read_ids, read_phdos_csv
from .data.pretrained import check_pretrained_record, first_trainable_block
from .data.xas import absorbing_sites, read_xas_dataset, site_average, site_graphs
from .data.structures import StructureLike, check_neighbours, to_structure
from .devices import resolve_device
from .errors import InputError, ModelError
from .models.serialization import load_model_dir
from .io.units import CM1_PER_THZ
from .metrics import spectrum_metrics, xas_metrics

if TYPE_CHECKING:
    from pymatgen.analysis.xas.spectrum import XAS
    from pymatgen.phonon.dos import PhononDos

    from .analysis.thermo import PhononThermodynamics

__all__ = ["PRETRAINED", "load_model", "compare", "identify", "resolve_model_dir", "PhononDosPrediction", "PhononDosPredictor",
           "XasPrediction", "XasPredictor"]

#: Shipped models: name -> folder under ``checkpoints/``.
PRETRAINED = {"phdos": "phdos", "xas-cu-k": "xas-cu-k"}


def _checkpoint_roots() -> list[Path]:
    roots = [Path(str(resources.files("equispec"))) / "checkpoints"]  # installed wheel
    roots.append(Path(__file__).resolve().parents[2] / "checkpoints")  # source checkout / editable install
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


def compare(structure, measured, model="phdos", *, mode: str | None = None, potential: str | None = None,
            relax: bool | None = None, **options):
    """Predict ``structure``'s spectrum and score it against a measured file: ``model`` is a shipped name, a
    model directory or a loaded predictor; ``mode``, ``potential`` and ``relax`` as in :func:`load_model`
    (a measured S(|Q|, E) ``.npz`` needs ``mode="physics"`` or ``"hybrid"``). ``options``: see
    :func:`equispec.analysis.compare`."""
    from .analysis import compare as _compare

    return _compare(structure, measured, _predictor(model, mode=mode, potential=potential, relax=relax), **options)


def identify(measured, candidates, model="phdos", **options):
    """Rank candidate structures by agreement with a measurement; see :func:`equispec.analysis.identify`."""
    from .analysis import identify as _identify

    return _identify(measured, candidates, _predictor(model), **options)


def _predictor(model, **physics):
    """A loaded predictor as given, or ``load_model(model, **physics)`` without the options left unset."""
    if hasattr(model, "predict"):
        return model
    return load_model(model, **{k: v for k, v in physics.items() if v is not None})


def load_model(name_or_dir: str | os.PathLike = "phdos", device: str | torch.device = "cpu", mode: str = "fast",
               potential: str | None = None, relax: bool = False):
    """Load a shipped model by name or a trained model directory and wrap it in a predictor.

    ``device``: ``cpu``, ``cuda`` or ``auto`` (the GPU when torch sees one); the model and its pretrained
    featurizer both run there.

    ``mode`` (phonon-DOS models): ``fast`` runs the network; ``physics`` computes the DOS from universal-
    potential forces with phonopy (seconds per structure, see ``equispec.physics``); ``hybrid`` combines the
    two with the frequency scale and weight fitted on training materials (the model's ``hybrid`` record).
    ``potential`` (physics/hybrid: ``7net-0`` or ``7net-l3i5``; default: the one the hybrid was fitted with)
    and ``relax`` (relax atomic positions at fixed cell first) choose how the forces are computed.
    """
    device = resolve_device(device)
    directory = resolve_model_dir(name_or_dir)
    model, info = load_model_dir(directory)
    check_pretrained_record(info, str(directory))
    if "energy_ev" in info:
        if mode != "fast" or potential is not None or relax:
            raise ModelError(str(name_or_dir), f"mode '{mode}', --potential and --relax are for phonon-DOS models; "
                                               "XAS models have 'fast' only")
        return XasPredictor(model.to(device), info, name=str(name_or_dir))
    if "freq_cm1" not in info:
        raise ModelError(str(directory), "model.json has neither a freq_cm1 nor an energy_ev grid")
    return PhononDosPredictor(model.to(device), info, name=str(name_or_dir), mode=mode, potential=potential,
                              relax=relax)


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
        from .physics.neutron import ins_spectra

        return ins_spectra(self, ei_mev=ei_mev, temperature_k=temperature_k, resolution=resolution, **options)

    def thermodynamics(self, temperatures_k) -> "PhononThermodynamics":
        """Heat capacity, entropy, Helmholtz free energy and mean frequency of this DOS, per mole of atoms
        (``.per_formula_unit()`` converts); see ``equispec.analysis.thermo.phonon_thermodynamics``.

        Args:
            temperatures_k: temperature or (n_t,) temperatures in K, all > 0.
        """
        from .analysis.thermo import phonon_thermodynamics

        return phonon_thermodynamics(self.freq_cm1, self.dos, temperatures_k, self.structure)

    def to_dict(self) -> dict:
        record = {"name": self.name, "formula": self.structure.composition.reduced_formula,
                  "freq_cm1": self.freq_cm1.tolist(), "dos": self.dos.tolist()}
        if self.dos_std is not None:
            record["dos_std"] = self.dos_std.tolist()
        record["partial_dos"] = {el: v.tolist() for el, v in self.partial_dos.items()}
        if self.mode != "fast":
            record["mode"] = self.mode
            record["imaginary_fraction"] = self.imaginary_fraction
        if self.full_range is not None:
            record["full_range"] = self.full_range.to_dict()
        return record


class _Predictor:
    """A loaded model with the element list and cutoff it was trained with: checks inputs, runs batches."""

    mode = "fast"  # PhononDosPredictor also has "physics" and "hybrid", which take seconds per structure

    def __init__(self, model: torch.nn.Module, info: dict, name: str = "model"):
        self.model = model.eval()
        self.info = info
        self.name = name
        self.elements = list(info.get("elements", []))
        self.cutoff_ang = float(info["hyperparameters"]["cutoff_ang"])

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def check_elements(self, structure: Structure, name: str) -> None:
        known = set(self.elements)
        unknown = sorted({el.symbol for el in structure.composition.elements} - known,
                         key=lambda s: Element(s).Z)
        if unknown:
            raise InputError(name, f"element {unknown[0]} is not among the {len(known)} elements that model "
                                   f"'{self.name}' was trained on")

    def check(self, obj: StructureLike, name: str | None = None) -> tuple[Structure, str]:
        """Read and check one input against this model; raises ``InputError`` naming the input."""
        structure, label = to_structure(obj, name)
        self.check_elements(structure, label)
        check_neighbours(structure, self.cutoff_ang, label)
        return structure, label

    def features(self, structures: list[Structure], progress: bool = False) -> list[np.ndarray] | None:
        """Pretrained per-atom features where the model uses them."""
        hyperparameters = self.info["hyperparameters"]
        pretrained = hyperparameters.get("pretrained")
        return pretrained_features(structures, pretrained, progress=progress, device=str(self.device),
                                   first_trainable_block=first_trainable_block(hyperparameters)) \
            if pretrained else None

    @torch.no_grad()
    def _batches(self, graphs: list, batch_size: int, progress: bool):
        """Yield ``(batch, model output)`` over pre-built graphs, in order."""
        loader = DataLoader(graphs, batch_size=batch_size, shuffle=False)
        dtype = next(self.model.parameters()).dtype
        for batch in tqdm(loader, desc="predict", disable=not progress, leave=False):
            batch = batch.to(self.device)
            for key in (keys.POSITIONS, keys.CELL, keys.EDGE_CELL_SHIFT, keys.NODE_PRETRAINED, keys.SITE_WEIGHT):
                if key in batch:
                    batch[key] = batch[key].to(dtype)
            yield batch, self.model(batch)

    @staticmethod
    def _as_list(structures, names):
        if isinstance(structures, (str, os.PathLike, Structure)) or type(structures).__name__ == "Atoms":
            structures = [structures]
        return structures, names or [None] * len(structures)

    def predict(self, structures, names: list[str] | None = None, batch_size: int = 64, progress: bool = False):
        """Predict structures (paths, ``Structure`` or ``Atoms``), batched; returns a list of predictions.

        All inputs are checked before anything is predicted, so one bad input fails the call early.
        """
        return list(self.predict_stream(structures, names, batch_size, progress))

    def predict_stream(self, structures, names: list[str] | None = None, batch_size: int = 64,
                       progress: bool = False, chunk_size: int = 512):
        """Like ``predict``, but yields each prediction as soon as its chunk of ``chunk_size`` structures is
        done (featurized, graphed, predicted), with a progress bar and ETA over all structures. Inputs are
        still all checked first, so that a bad file fails before the first result is handed out."""
        structures, names = self._as_list(structures, names)
        if self.mode != "fast":
            chunk_size = 1  # seconds per structure: stream and count each one
        checked, labels = [], []
        for obj, name in tqdm(list(zip(structures, names)), desc="read", unit="structure", leave=False,
                              disable=not progress):
            structure, label = self.check(obj, name)
            checked.append(structure)
            labels.append(label)
        bar = tqdm(total=len(checked), desc="predict", unit="structure", disable=not progress)
        with bar:
            for start in range(0, len(checked), chunk_size):
                chunk = slice(start, start + chunk_size)
                for prediction in self._predict_checked(checked[chunk], labels[chunk], batch_size):
                    yield prediction
                bar.update(len(checked[chunk]))

    def _predict_checked(self, structures: list[Structure], labels: list[str], batch_size: int) -> list:
        raise NotImplementedError


PHONON_MODES = ("fast", "physics", "hybrid")


def combine_dos(network_dos, network_partial: dict, physics_dos_, physics_partial: dict, network_weight):
    """``w * network + (1 - w) * physics``, max-normalised again; partial DOS share the normalisation.
    ``network_weight``: a number, or one per frequency bin (the learned hybrid)."""
    w = np.asarray(network_weight, dtype=float)
    total = w * np.asarray(network_dos) + (1 - w) * np.asarray(physics_dos_)
    peak = total.max()
    partial = {el: (w * network_partial.get(el, 0.0) + (1 - w) * physics_partial.get(el, 0.0)) / peak
               for el in {*network_partial, *physics_partial}}
    return total / peak, partial


def hybrid_rows(network: np.ndarray, physics: np.ndarray, network_weight: float) -> np.ndarray:
    """(n, n_bins) ``combine_dos`` row by row; a NaN physics row (the computation failed) leaves the network
    alone, as in the README's hybrid figures (``scripts/fit_hybrid.py``)."""
    out = np.array(network, dtype=float)
    for i, row in enumerate(physics):
        if not np.isnan(row).any():
            out[i] = combine_dos(network[i], {}, row, {}, network_weight)[0]
    return out


class PhononDosPredictor(_Predictor):
    """A loaded phonon-DOS model with the grid, element list and cutoff it was trained with."""

    def __init__(self, model: torch.nn.Module, info: dict, name: str = "model", mode: str = "fast",
                 potential: str | None = None, relax: bool = False):
        super().__init__(model, info, name)
        self.freq_cm1 = np.asarray(info["freq_cm1"], dtype=float)
        if mode not in PHONON_MODES:
            raise ModelError(mode, f"unknown mode (known: {', '.join(PHONON_MODES)})")
        if mode == "hybrid" and "hybrid" not in info:
            raise ModelError(name, "this model has no hybrid calibration (scripts/fit_hybrid.py writes one)")
        if mode == "fast" and (potential is not None or relax):
            raise ModelError("--potential", "a potential and --relax are for --mode physics or hybrid")
        self.mode = mode
        self.physics_settings = None if mode == "fast" else self._physics_settings(potential, bool(relax))

    def _physics_settings(self, potential: str | None, relax: bool):
        """How the force constants are computed (``equispec.physics``); checked before any input is read."""
        from .physics.phonopy_dos import POTENTIALS, PhysicsDosSettings  # phonopy is imported on first use

        hybrid = self.info.get("hybrid", {})
        fitted = (hybrid.get("potential", "7net-0"), bool(hybrid.get("relax", False)))
        potential = potential or fitted[0]
        if potential not in POTENTIALS:
            raise ModelError(potential, f"unknown potential (known: {', '.join(POTENTIALS)})")
        if self.mode == "hybrid" and (potential, relax) != fitted:  # the frequency scale belongs to its potential
            raise ModelError(self.name, f"the hybrid was fitted for potential {fitted[0]} "
                                        f"{'with' if fitted[1] else 'without'} relaxation; use those settings")
        scale = hybrid["frequency_scale"] if self.mode == "hybrid" else 1.0
        return PhysicsDosSettings(frequency_scale=scale, potential=potential, relax=relax)

    def graphs(self, structures: list[Structure], labels: list[str], progress: bool = False) -> list:
        """The model's graphs for checked structures (with pretrained features where the model uses them)."""
        return build_graphs(structures, self.cutoff_ang, labels, progress=progress, pretrained=self.features(structures, progress))

    def predict_graphs(self, graphs: list, batch_size: int = 64, progress: bool = False, with_std: bool = False):
        """Run the model on pre-built graphs. Returns (n, n_bins) total DOS and a list of per-atom arrays
        (and, with ``with_std``, the (n, n_bins) ensemble spread, or None for a single model)."""
        totals, per_atom, spread = [], [], []
        for batch, out in self._batches(graphs, batch_size, progress):
            totals.append(out[keys.GRAPH_OUTPUT].cpu().numpy())
            if keys.GRAPH_OUTPUT_STD in out:
                spread.append(out[keys.GRAPH_OUTPUT_STD].cpu().numpy())
            nodes = out[keys.NODE_OUTPUT].cpu().numpy()
            splits = np.cumsum(np.bincount(batch[keys.BATCH].cpu().numpy(), minlength=batch.num_graphs))[:-1]
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
        for batch, _ in self._batches(graphs, batch_size, False):
            with torch.no_grad():
                for j, m in enumerate(members):
                    out[j].append(ensemble[m](batch)[keys.GRAPH_OUTPUT].cpu().numpy())
        return np.stack([np.concatenate(o) for o in out]).astype(float)

    def _network_weights(self, graphs: list, fast: list, physics_results: list, structures: list) -> list:
        """Per structure, the hybrid's network weight: the fixed one, or per bin from the learned hybrid."""
        record = self.info["hybrid"]
        if "learned" not in record:
            return [record["network_weight"]] * len(fast)
        from .models.hybrid import LearnedHybrid, reliability_features

        learned = record["learned"]
        spread = self.member_predictions(graphs, learned["spread_members"]).std(0)
        features = reliability_features(
            np.stack([f.dos for f in fast]), spread, np.stack([p.dos for p in physics_results]),
            np.array([p.imaginary_fraction for p in physics_results]),
            [[el.symbol for el in s.composition.elements] for s in structures], learned["element_fractions"])
        return list(LearnedHybrid.from_dict(learned).network_weight(features))

    def _predict_checked(self, checked: list[Structure], labels: list[str], batch_size: int
                         ) -> list[PhononDosPrediction]:
        graphs = self.graphs(checked, labels) if self.mode != "physics" else None
        fast = self._predict_network(checked, labels, batch_size, graphs) if self.mode != "physics" else None
        if self.mode == "fast":
            return fast
        from .physics import physics_dos

        physics_results = [physics_dos(structure, name=label, settings=self.physics_settings)
                           for structure, label in zip(checked, labels)]
        weights = self._network_weights(graphs, fast, physics_results, checked) if self.mode == "hybrid" else None
        results = []
        for k, (structure, label) in enumerate(zip(checked, labels)):
            physics = physics_results[k]
            dos, partial = physics.dos, physics.partial_dos
            if self.mode == "hybrid":
                dos, partial = combine_dos(fast[k].dos, fast[k].partial_dos, dos, partial, weights[k])
            results.append(PhononDosPrediction(label, physics.structure, self.freq_cm1.copy(), dos, partial, None,
                                               self.mode, physics.imaginary_fraction, physics.full_range,
                                               physics.phonon))
        return results

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
            results.append(PhononDosPrediction(label, structure, self.freq_cm1.copy(), total, partial,
                                               None if spread is None else spread[i]))
        return results

    def evaluate(self, csv_path: str | os.PathLike, ids_path: str | os.PathLike | None = None,
                 batch_size: int = 64, progress: bool = False, physics_cache: str | os.PathLike | None = None
                 ) -> tuple[dict, list[str], np.ndarray]:
        """Score on a labelled CSV (optionally restricted to an id list) in this predictor's mode.
        Returns (metrics, ids scored, predictions).

        Physics and hybrid modes score as the README's figures were made (``scripts/fit_hybrid.py``): the
        physics DOS is computed at frequency scale 1 and the hybrid's scale applied to it afterwards; a
        material whose physics computation fails is left out of the physics score and scored by the network
        alone in the hybrid one. Each failure is noted on stderr and counted in ``metrics["physics_failed"]``.
        ``physics_cache``: folder of :class:`~equispec.physics.cache.PhysicsDosCache` (None: no cache), so
        that an interrupted run resumes and a rerun computes nothing again.
        """
        table = read_phdos_csv(csv_path)
        if table.dos is None:
            raise InputError(str(csv_path), "has no phfreq/phdos columns: nothing to score against")
        if not np.allclose(table.freq_cm1, self.freq_cm1):
            raise InputError(str(csv_path), "frequency grid differs from the model's")
        if ids_path is not None:
            table = table.subset(read_ids(ids_path), str(ids_path))
        labels = [f"{csv_path}: {mp_id}" for mp_id in table.ids]
        for structure, label in zip(table.structures, labels):
            self.check_elements(structure, label)
        cache = None
        if self.mode != "fast" and physics_cache is not None:  # a bad folder fails before any computation
            from .physics.cache import PhysicsDosCache

            cache = PhysicsDosCache(physics_cache, self.physics_settings)
        if self.mode == "physics":  # the network is not needed
            predictions = self._physics_rows(table.structures, labels, cache, progress)
            scored = ~np.isnan(predictions).any(axis=1)
            if not scored.any():
                raise InputError(str(csv_path), f"the physics DOS failed for all {len(labels)} materials: "
                                                "nothing to score")
            metrics = spectrum_metrics(self.freq_cm1, table.dos[scored], predictions[scored])
            ids = [mp_id for mp_id, ok in zip(table.ids, scored) if ok]
            return {**metrics, "physics_failed": int((~scored).sum())}, ids, predictions[scored]
        predictions, _ = self.predict_graphs(self.graphs(table.structures, labels, progress), batch_size, progress)
        if self.mode == "fast":
            return spectrum_metrics(self.freq_cm1, table.dos, predictions), table.ids, predictions
        physics = self._physics_rows(table.structures, labels, cache, progress)
        predictions = hybrid_rows(predictions, physics, self.info["hybrid"]["network_weight"])
        failed = int(np.isnan(physics).any(axis=1).sum())
        return {**spectrum_metrics(self.freq_cm1, table.dos, predictions), "physics_failed": failed}, table.ids, \
            predictions

    def _physics_rows(self, structures: list[Structure], labels: list[str], cache, progress: bool) -> np.ndarray:
        """(n, n_bins) physics DOS at this predictor's frequency scale; NaN rows where it failed (noted on stderr)."""
        import sys

        from .physics.cache import raw_dos_many

        settings = self.physics_settings
        rows = np.full((len(structures), len(self.freq_cm1)), np.nan)
        for i, raw in enumerate(raw_dos_many(structures, labels, settings, cache, progress)):
            try:
                rows[i] = raw.label(settings.frequency_scale, labels[i])
            except InputError as exc:
                fallback = "left out of the score" if self.mode == "physics" else "scored by the network alone"
                tqdm.write(f"equispec: note: {exc} (physics DOS failed; {fallback})", file=sys.stderr)
        return rows


@dataclass
class XasPrediction:
    """Predicted X-ray absorption of one structure: one spectrum per symmetry-inequivalent absorber.

    Attributes:
        name: file name or formula of the input.
        structure: the structure that was predicted.
        element, edge: absorbing element and edge (e.g. ``"Cu"``, ``"K"``).
        energy_ev: (n,) energies in eV (FEFF's absolute scale for FEFF-trained models).
        site_indices: index in ``structure`` of each inequivalent absorber.
        multiplicities: number of equivalent absorbers each stands for.
        site_mu: (n_sites, n) absorption per inequivalent site, in the training data's units.
        site_mu_std: spread of ensemble members (None for a single model).
        edge_step: typical edge step of the training spectra in their unit (None where the data did not
            record it): dividing by it puts the prediction on the unit edge step of a normalised measurement.
    """

    name: str
    structure: Structure
    element: str
    edge: str
    energy_ev: np.ndarray
    site_indices: list
    multiplicities: list
    site_mu: np.ndarray
    site_mu_std: np.ndarray | None = None
    edge_step: float | None = None

    @property
    def mu(self) -> np.ndarray:
        """The spectrum a measurement sees: the multiplicity-weighted average over absorbing sites."""
        return site_average(self.site_mu, self.multiplicities)

    def _xas(self, mu: np.ndarray, index: int | None) -> XAS:
        from pymatgen.analysis.xas.spectrum import XAS  # imported on use, like PhononDos

        return XAS(self.energy_ev, mu, self.structure, self.element, edge=self.edge, spectrum_type="XANES",
                   absorbing_index=index)

    @property
    def site_spectra(self) -> list[XAS]:
        """pymatgen ``XAS`` per inequivalent absorbing site (``absorbing_index`` set)."""
        return [self._xas(mu, int(i)) for i, mu in zip(self.site_indices, self.site_mu)]

    @property
    def average(self) -> XAS:
        """pymatgen ``XAS`` of the site average (``absorbing_index`` None)."""
        return self._xas(self.mu, None)

    def to_dict(self) -> dict:
        return {"name": self.name, "formula": self.structure.composition.reduced_formula, "element": self.element,
                "edge": self.edge, "energy_ev": self.energy_ev.tolist(), "mu": self.mu.tolist(),
                "sites": [{"site_index": int(i), "multiplicity": int(m), "mu": mu.tolist()}
                          for i, m, mu in zip(self.site_indices, self.multiplicities, self.site_mu)]}


class XasPredictor(_Predictor):
    """A loaded site-resolved XAS model: energy grid, the absorbers (element, edge) it was trained on."""

    def __init__(self, model: torch.nn.Module, info: dict, name: str = "model"):
        super().__init__(model, info, name)
        self.energy_ev = np.asarray(info["energy_ev"], dtype=float)
        absorbers = info.get("absorbers") or [{"element": "Cu", "edge": "K"}]
        self.element, self.edge = absorbers[0]["element"], absorbers[0]["edge"]
        self.train_mean_spectrum = np.asarray(info.get("train_mean_spectrum", []), dtype=float)

    def check(self, obj: StructureLike, name: str | None = None) -> tuple[Structure, str]:
        structure, label = to_structure(obj, name)
        absorbing_sites(structure, self.element, label)  # raises when there is no absorber
        self.check_elements(structure, label)
        check_neighbours(structure, self.cutoff_ang, label)
        return structure, label

    def graphs(self, structures: list[Structure], labels: list[str], progress: bool = False) -> list:
        """Graphs with each structure's inequivalent absorbers marked and weighted by multiplicity."""
        sites = [absorbing_sites(s, self.element, label) for s, label in zip(structures, labels)]
        return site_graphs(structures, labels, [s for s, _ in sites], self.edge, self.cutoff_ang,
                           weights=[m for _, m in sites], pretrained=self.features(structures, progress),
                           progress=progress)

    def predict_site_graphs(self, graphs: list, batch_size: int = 64, progress: bool = False,
                            with_std: bool = False):
        """(n_sites, n) spectra of every absorber of pre-built graphs, in graph and node order
        (and their ensemble spread, or None, with ``with_std``)."""
        sites, spread = [], []
        for _, out in self._batches(graphs, batch_size, progress):
            sites.append(out[keys.SITE_OUTPUT].cpu().numpy())
            if keys.SITE_OUTPUT_STD in out:
                spread.append(out[keys.SITE_OUTPUT_STD].cpu().numpy())
        sites = np.concatenate(sites).astype(float)
        if with_std:
            return sites, np.concatenate(spread).astype(float) if spread else None
        return sites

    def _predict_checked(self, checked: list[Structure], labels: list[str], batch_size: int) -> list[XasPrediction]:
        """Site and average spectra (a structure without the absorbing element fails in ``check``)."""
        graphs = self.graphs(checked, labels)
        sites, spread = self.predict_site_graphs(graphs, batch_size, with_std=True)
        results, start = [], 0
        for label, structure, graph in zip(labels, checked, graphs):
            index = torch.nonzero(graph[keys.ABSORBER_MASK], as_tuple=True)[0]
            weights = graph[keys.SITE_WEIGHT][index]
            stop = start + len(index)
            results.append(XasPrediction(label, structure, self.element, self.edge, self.energy_ev.copy(),
                                         index.tolist(), [int(round(float(w))) for w in weights], sites[start:stop],
                                         None if spread is None else spread[start:stop], self.info.get("edge_step")))
            start = stop
        return results

    def evaluate(self, folder: str | os.PathLike, split: str = "val", batch_size: int = 64,
                 progress: bool = False, feature_cache: str | None = None) -> tuple[dict, object, np.ndarray]:
        """Score on one split of a site-spectrum folder. Returns (metrics, rows scored, site predictions)
        with the rows in the order of the predictions. ``feature_cache`` as in ``pretrained_features``.

        The eta baseline is the mean spectrum of the folder's ``train`` split when it has one (as in
        OmniXAS), else the training mean stored with the model.
        """
        from .data.xas import dataset_graphs, graph_row_order

        dataset = read_xas_dataset(folder)
        if not np.allclose(dataset.energy_ev, self.energy_ev):
            raise InputError(str(folder), "energy grid differs from the model's")
        rows = dataset.split_rows(split)
        if np.isnan(rows.spectrum).any():
            raise InputError(str(folder), f"split {split!r} has withheld (NaN) spectra: nothing to score against")
        train = dataset.split == "train"
        train_mean = dataset.spectrum[train].mean(axis=0) if train.any() else self.train_mean_spectrum
        if len(train_mean) != len(self.energy_ev):
            raise InputError(str(folder), "has no train split and the model stores no training mean for eta")
        for material in rows.materials():
            self.check_elements(rows.structure(material), f"{folder}: {material}")
        hyperparameters = self.info["hyperparameters"]
        graphs = dataset_graphs(rows, self.cutoff_ang, hyperparameters.get("pretrained"), feature_cache,
                                progress, str(self.device), first_trainable_block(hyperparameters))
        predictions = self.predict_site_graphs(graphs, batch_size, progress)
        rows = rows.select(graph_row_order(rows))
        return xas_metrics(rows.spectrum, predictions, train_mean), rows, predictions
