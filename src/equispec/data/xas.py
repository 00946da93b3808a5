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

__all__ = ["XasDataset", "read_xas_dataset", "write_xas_dataset", "XAS_EDGES", "omnixas_grid_ev", "OMNIXAS_START_EV"]

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
