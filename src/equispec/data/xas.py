"""Site-resolved X-ray absorption data sets: one spectrum per absorbing site of a structure.

Two layouts are read, both as a folder:

- equispec's own (written by :func:`write_xas_dataset`): ``xas_spectra.npz`` with ``material_id[N]``,
  ``site_index[N]`` (0-based, into that material's structure), ``absorbing_element[N]``, ``edge[N]``,
  ``split[N]`` (``train``/``val``/``test``/``outlier``/...), ``energy_ev[M]`` (the common grid, eV),
  ``spectrum[N, M]`` and optionally ``edge_step[N]``; and ``structures.json.gz``, ``{material_id: POSCAR text}``.
- OmniXAS's Cu K-edge FEFF folder (``cu_k_feff_spectra.npz`` + ``cu_structures_poscar.json.gz``, see
  ``../shared/data/xas/omnixas_cu_feff/README.md``), whose ``omnixas_spectrum`` on the 141-point grid
  is used as the spectrum. Kharel et al., arXiv:2409.19552 (OmniXAS); spectra by FEFF9 via Lightshow.

Both may list sites without spectra (withheld test sites): ``test_sites.csv`` in the folder adds them with
split ``test`` and NaN spectra, so that predictions for a blind set can be written.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pymatgen.core import Structure

from ..errors import InputError
from ..io.files import atomic_savez, atomic_write
from .. import keys

__all__ = ["XasDataset", "read_xas_dataset", "write_xas_dataset", "absorbing_sites", "site_average", "site_graphs", "dataset_graphs", "equivalent_atoms",
           "graph_row_order",
           "XAS_EDGES", "omnixas_grid_ev",
           "OMNIXAS_START_EV"]

#: Absorption edges a model can be conditioned on (index = embedding row).
XAS_EDGES = ("K", "L1", "L2", "L3", "M1", "M2", "M3", "M4", "M5")

#: OmniXAS's fixed start of the 35 eV, 141-point window per element (FEFF energy scale, eV).
#: Bohr radius in Å (CODATA 2018): OmniXAS spectra are FEFF's normalised mu * xsedge / a0^2.
BOHR_ANGSTROM = 0.529177210903

OMNIXAS_START_EV = {"Co": 7709.282, "Cr": 5989.168, "Cu": 8983.173, "Fe": 7111.23, "Mn": 6537.886,
                    "Ni": 8332.181, "Ti": 4964.504, "V": 5464.097}

SPECTRA_FILE = "xas_spectra.npz"
STRUCTURES_FILE = "structures.json.gz"
OMNIXAS_SPECTRA_FILE = "cu_k_feff_spectra.npz"
OMNIXAS_STRUCTURES_FILE = "cu_structures_poscar.json.gz"
TEST_SITES_FILE = "test_sites.csv"


def omnixas_grid_ev(element: str) -> np.ndarray:
    """OmniXAS's 141 energies (0.25 eV steps over 35 eV) for ``element``."""
    if element not in OMNIXAS_START_EV:
        raise InputError(element, f"no OmniXAS energy window (known: {', '.join(OMNIXAS_START_EV)})")
    start = OMNIXAS_START_EV[element]
    return np.linspace(start, start + 35.0, 141)


@dataclass
class XasDataset:
    """Site spectra with their structures.

    Attributes:
        material_id, site_index, absorbing_element, edge, split: per spectrum, length N.
        energy_ev: (M,) common energy grid in eV.
        spectrum: (N, M) absorption on that grid (NaN rows where withheld).
        poscars: material id -> POSCAR text (parsed lazily by :meth:`structure`).
        edge_step: (N,) edge step of each spectrum (OmniXAS: FEFF's ``xsedge`` / a0^2, since its spectra are
            mu at unit edge step times that factor), so that comparisons can put spectra on a unit edge step.
    """

    material_id: np.ndarray
    site_index: np.ndarray
    absorbing_element: np.ndarray
    edge: np.ndarray
    split: np.ndarray
    energy_ev: np.ndarray
    spectrum: np.ndarray
    poscars: dict[str, str]
    source: str = "dataset"
    edge_step: np.ndarray | None = None  # (N,) edge step of each spectrum in its unit, where the data record it

    def __post_init__(self):
        self._structures: dict[str, Structure] = {}

    def __len__(self) -> int:
        return len(self.material_id)

    def structure(self, material_id: str) -> Structure:
        if material_id not in self._structures:
            if material_id not in self.poscars:
                raise InputError(self.source, f"no structure for {material_id}")
            from pymatgen.io.vasp import Poscar

            try:
                self._structures[material_id] = Poscar.from_str(self.poscars[material_id]).structure
            except (ValueError, IndexError) as exc:
                raise InputError(self.source, f"unreadable structure for {material_id} ({exc})") from None
        return self._structures[material_id]

    def select(self, mask: np.ndarray) -> "XasDataset":
        """Rows where ``mask`` is true, or the rows of an index array (structures are shared, not copied)."""
        subset = XasDataset(self.material_id[mask], self.site_index[mask], self.absorbing_element[mask],
                            self.edge[mask], self.split[mask], self.energy_ev, self.spectrum[mask], self.poscars,
                            self.source, None if self.edge_step is None else self.edge_step[mask])
        subset._structures = self._structures
        return subset

    def split_rows(self, split: str) -> "XasDataset":
        """The spectra of one split; a clear error when the folder has none."""
        mask = self.split == split
        if not mask.any():
            raise InputError(self.source, f"no spectra in split {split!r} (splits: {', '.join(sorted(set(self.split)))})")
        return self.select(mask)

    def materials(self) -> list[str]:
        """Material ids in order of first appearance."""
        return list(dict.fromkeys(self.material_id.tolist()))


def _read_poscars(path: Path) -> dict[str, str]:
    try:
        with gzip.open(path, "rt") as handle:
            poscars = json.load(handle)
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(str(path), f"not a gzipped JSON of POSCAR strings ({exc})") from None
    if not isinstance(poscars, dict) or not all(isinstance(v, str) for v in poscars.values()):
        raise InputError(str(path), "expected {material_id: POSCAR text}")
    return poscars


def _load_npz(path: Path, required: tuple[str, ...]) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(str(path), f"not a readable .npz archive ({exc})") from None
    missing = [key for key in required if key not in arrays]
    if missing:
        raise InputError(str(path), f"missing arrays: {', '.join(missing)}")
    return arrays


def _test_sites(folder: Path, n_grid: int, element: str, edge: str) -> dict[str, np.ndarray] | None:
    path = folder / TEST_SITES_FILE
    if not path.is_file():
        return None
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    try:
        ids = np.array([r["material_id"] for r in rows])
        sites = np.array([int(r["site_index"]) for r in rows])
    except (KeyError, ValueError) as exc:
        raise InputError(str(path), f"expected columns material_id, site_index ({exc})") from None
    n = len(rows)
    return {"material_id": ids, "site_index": sites, "absorbing_element": np.full(n, element),
            "edge": np.full(n, edge), "split": np.full(n, "test"), "spectrum": np.full((n, n_grid), np.nan)}


def read_xas_dataset(folder: str | os.PathLike) -> XasDataset:
    """Read a site-spectrum folder in equispec's or OmniXAS's layout (see the module docstring)."""
    folder = Path(folder)
    name = str(folder)
    if not folder.is_dir():
        raise InputError(name, "no such folder")
    if (folder / SPECTRA_FILE).is_file():
        a = _load_npz(folder / SPECTRA_FILE, ("material_id", "site_index", "absorbing_element", "edge", "split",
                                              "energy_ev", "spectrum"))
        poscars = _read_poscars(folder / STRUCTURES_FILE)
        grid = a["energy_ev"]
        columns = {k: a[k] for k in ("material_id", "site_index", "absorbing_element", "edge", "split", "spectrum")}
        step = a.get("edge_step")
    elif (folder / OMNIXAS_SPECTRA_FILE).is_file():
        a = _load_npz(folder / OMNIXAS_SPECTRA_FILE, ("material_id", "site_index", "split", "omnixas_grid",
                                                      "omnixas_spectrum"))
        poscars = _read_poscars(folder / OMNIXAS_STRUCTURES_FILE)
        grid = a["omnixas_grid"]
        n = len(a["material_id"])
        columns = {"material_id": a["material_id"], "site_index": a["site_index"],
                   "absorbing_element": np.full(n, "Cu"), "edge": np.full(n, "K"), "split": a["split"],
                   "spectrum": a["omnixas_spectrum"]}
        step = a["xsedge_norm"] / BOHR_ANGSTROM**2 if "xsedge_norm" in a else None
    else:
        raise InputError(name, f"not an XAS data folder (expected {SPECTRA_FILE} or {OMNIXAS_SPECTRA_FILE})")
    n = len(columns["material_id"])
    if columns["spectrum"].shape != (n, len(grid)) or any(len(v) != n for v in columns.values()):
        raise InputError(name, "arrays disagree in length (spectra, ids, sites and grid must match)")
    extra = _test_sites(folder, len(grid), str(columns["absorbing_element"][0]) if n else "Cu",
                        str(columns["edge"][0]) if n else "K")
    if step is not None:
        columns["edge_step"] = np.asarray(step, dtype=float)
    if extra is not None:
        labelled = {(m, int(s)) for m, s in zip(columns["material_id"], columns["site_index"])}
        keep = np.array([(m, int(s)) not in labelled for m, s in zip(extra["material_id"], extra["site_index"])],
                        dtype=bool)
        extra["edge_step"] = np.full(len(keep), np.nan)
        columns = {k: np.concatenate([np.asarray(v), extra[k][keep]]) for k, v in columns.items()}
    return XasDataset(columns["material_id"].astype(str), columns["site_index"].astype(np.int64),
                      columns["absorbing_element"].astype(str), columns["edge"].astype(str),
                      columns["split"].astype(str), np.asarray(grid, dtype=float),
                      np.asarray(columns["spectrum"], dtype=float), poscars, name, columns.get("edge_step"))


def write_xas_dataset(folder: str | os.PathLike, dataset: XasDataset) -> Path:
    """Write ``dataset`` in equispec's layout; each file is written to a temporary name and renamed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    used = set(dataset.material_id.tolist())
    arrays = {"material_id": dataset.material_id.astype(str), "site_index": dataset.site_index.astype(np.int64),
              "absorbing_element": dataset.absorbing_element.astype(str), "edge": dataset.edge.astype(str),
              "split": dataset.split.astype(str), "energy_ev": np.asarray(dataset.energy_ev, dtype=float),
              "spectrum": np.asarray(dataset.spectrum, dtype=float)}
    if dataset.edge_step is not None:
        arrays["edge_step"] = np.asarray(dataset.edge_step, dtype=float)
    atomic_savez(folder / SPECTRA_FILE, arrays)
    poscars = {k: v for k, v in dataset.poscars.items() if k in used}
    atomic_write(folder / STRUCTURES_FILE, lambda tmp: Path(tmp).write_bytes(gzip.compress(json.dumps(poscars).encode())))
    return folder


def equivalent_atoms(structure: Structure, symprec: float = 0.01) -> np.ndarray:
    """spglib's orbit label per site (the index of the orbit's first site); each site its own orbit where
    spglib fails on an odd cell."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        return np.asarray(SpacegroupAnalyzer(structure, symprec=symprec).get_symmetry_dataset().equivalent_atoms)
    except Exception:  # spglib raises several types on degenerate input
        return np.arange(len(structure))


def absorbing_sites(structure: Structure, element: str, name: str = "structure",
                    symprec: float = 0.01) -> tuple[list[int], list[int]]:
    """Symmetry-inequivalent sites of ``element`` and their multiplicities (spglib via pymatgen).

    Equivalent absorbers have the same spectrum, so each orbit is predicted once and weighted by its
    size in the average. Raises ``InputError`` when the structure has no such atom.
    """
    if not any(site.specie.symbol == element for site in structure):
        raise InputError(name, f"has no {element} atom to absorb ({structure.composition.reduced_formula})")
    orbits = equivalent_atoms(structure, symprec)
    representatives, multiplicities = [], []
    for i, site in enumerate(structure):
        if site.specie.symbol == element and orbits[i] == i:
            representatives.append(i)
            multiplicities.append(int(np.sum(orbits == i)))
    return representatives, multiplicities


def site_average(site_values, multiplicities) -> np.ndarray:
    """What a measurement of the whole sample sees: per-site values (spectra along the last axis, or
    scalars) averaged over the inequivalent sites, each weighted by its multiplicity."""
    return np.average(np.asarray(site_values, dtype=float), axis=0, weights=np.asarray(multiplicities, dtype=float))


def site_graphs(structures: list[Structure], names: list[str], sites: list[list[int]], edge: str, cutoff_ang: float,
                targets: list[np.ndarray] | None = None, weights: list[list[float]] | None = None,
                pretrained: list[np.ndarray] | None = None, progress: bool = True) -> list:
    """Periodic graphs whose absorbers (``sites[i]``, node indices) carry the spectra to learn or predict.

    Args:
        targets: per structure, (len(sites[i]), n) spectra of those sites (``keys.NODE_TARGET``).
        weights: per structure, the weight of each site in the structure's average (``keys.SITE_WEIGHT``).
    """
    import torch

    from .datasets import build_graphs

    if edge not in XAS_EDGES:
        raise InputError(edge, f"unknown absorption edge (known: {', '.join(XAS_EDGES)})")
    graphs = build_graphs(structures, cutoff_ang, names, progress=progress, pretrained=pretrained)
    dtype = torch.get_default_dtype()
    for i, graph in enumerate(graphs):
        index = torch.as_tensor(sites[i], dtype=torch.long)
        mask = torch.zeros(graph.num_nodes, dtype=torch.bool)
        mask[index] = True
        graph[keys.ABSORBER_MASK] = mask
        graph[keys.ABSORPTION_EDGE] = torch.tensor([XAS_EDGES.index(edge)])
        if weights is not None:
            weight = torch.zeros(graph.num_nodes, dtype=dtype)
            weight[index] = torch.as_tensor(weights[i], dtype=dtype)
            graph[keys.SITE_WEIGHT] = weight
        if targets is not None:
            target = torch.full((graph.num_nodes, targets[i].shape[1]), float("nan"), dtype=dtype)
            target[index] = torch.as_tensor(targets[i], dtype=dtype)
            graph[keys.NODE_TARGET] = target
    return graphs


def _groups(dataset: XasDataset) -> dict[tuple[str, str], list[int]]:
    """(edge, material) -> row indices sorted by site, in the order graphs are built."""
    groups: dict[tuple[str, str], list[int]] = {}
    for row, (material, edge) in enumerate(zip(dataset.material_id, dataset.edge)):
        groups.setdefault((edge, material), []).append(row)
    ordered = sorted(groups, key=lambda key: key[0])  # stable: materials keep their order within an edge
    return {key: sorted(groups[key], key=lambda r: int(dataset.site_index[r])) for key in ordered}


def graph_row_order(dataset: XasDataset) -> np.ndarray:
    """Row indices of ``dataset`` in the order :func:`dataset_graphs` puts the absorbers (graph, then node)."""
    return np.array([row for rows in _groups(dataset).values() for row in rows], dtype=np.int64)


def dataset_graphs(dataset: XasDataset, cutoff_ang: float, pretrained: str | None = None,
                   feature_cache: str | None = None, progress: bool = True, device: str = "cpu",
                   first_trainable_block: int | None = None) -> list:
    """One graph per material and edge of ``dataset``, its listed sites as absorbers (pretrained features
    computed on ``device``; with ``first_trainable_block``, the inputs of fine-tuned blocks, see
    :func:`equispec.data.datasets.pretrained_features`)."""
    from .datasets import pretrained_features

    groups = _groups(dataset)
    names = [material for _, material in groups]
    structures = [dataset.structure(material) for material in names]
    for material, rows, structure in zip(names, groups.values(), structures):
        for row in rows:
            site = int(dataset.site_index[row])
            if not 0 <= site < len(structure) or structure[site].specie.symbol != dataset.absorbing_element[row]:
                raise InputError(dataset.source, f"{material} site {site} is not a {dataset.absorbing_element[row]} atom")
    features = pretrained_features(structures, pretrained, names, feature_cache, progress, device,
                                   first_trainable_block=first_trainable_block) if pretrained else None
    graphs = []
    for edge in dict.fromkeys(edge for edge, _ in groups):
        chosen = [k for k, (e, _) in enumerate(groups) if e == edge]
        rows = [list(groups.values())[k] for k in chosen]
        graphs += site_graphs([structures[k] for k in chosen], [names[k] for k in chosen],
                              [[int(dataset.site_index[r]) for r in rs] for rs in rows], edge, cutoff_ang,
                              [dataset.spectrum[rs] for rs in rows], None,
                              None if features is None else [features[k] for k in chosen], progress)
    return graphs
