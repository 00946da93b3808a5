"""Materials Project documents -> the project's training-data formats.

- Phonon DOS: the CSV that ``train`` and ``evaluate`` read (:func:`~equispec.data.datasets.read_phdos_csv`),
  with labels processed exactly as the shipped ones (:mod:`.phdos_processing`) and the structure the
  DFPT calculation used, written as the shipped ``str(ase.Atoms.todict())``-style literal.
- XAS: equispec's site-spectrum folder (:func:`~equispec.data.xas.write_xas_dataset`) on OmniXAS's
  141-point grid. Materials Project's FEFF XANES are interpolated onto that grid *as they are*:
  their energies are FEFF's absolute scale from the Materials Project's own runs, not re-aligned to
  OmniXAS's (whose window starts were set on its runs), so compare edge positions across the two
  sources with care. A spectrum that does not cover the whole 35 eV window is skipped and listed,
  never extrapolated. Materials Project XAS documents are element-averaged (site-weighted) spectra;
  the row's ``site_index`` is the document's ``absorbing_index``, a site of that element.

Materials without the data (unknown id, no DFPT phonons, no XAS document, spectrum off the window)
are skipped and listed in the returned report; only "nothing at all to write" is an error. Outputs are
written whole or not at all (:func:`~equispec.io.files.atomic_write`); everything fetched is already in
the client's cache, so an interrupted build loses nothing.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pymatgen.core import Structure

from ..errors import InputError
from ..io.files import atomic_write
from .materials_project import MaterialsProject
from ..data.phdos_processing import PHDOS_GRID_CM1, process_raw_dos_thz
from ..data.xas import XAS_EDGES, XasDataset, omnixas_grid_ev, write_xas_dataset

__all__ = ["BuildReport", "build_phdos_csv", "build_xas_dataset", "structure_to_ase_dict_text"]


@dataclass
class BuildReport:
    """What a build wrote and what it skipped (id -> reason)."""

    path: Path
    written: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        lines = [f"wrote {len(self.written)} entries to {self.path}"]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)}:")
            lines.extend(f"  {key}: {reason}" for key, reason in self.skipped.items())
        return lines


def structure_to_ase_dict_text(structure: Structure) -> str:
    """The shipped CSV's structure column: ``numbers``, Cartesian ``positions`` (Å), ``cell`` rows (Å),
    ``pbc`` as plain Python lists, so that ``ase.Atoms.fromdict(ast.literal_eval(text))`` reads it."""
    return str({"numbers": [int(site.specie.Z) for site in structure],
                "positions": structure.cart_coords.tolist(),
                "cell": structure.lattice.matrix.tolist(),
                "pbc": [True, True, True]})


def build_phdos_csv(out_path: str | os.PathLike, material_ids: list[str] | None = None,
                    query: dict[str, str] | None = None, client: MaterialsProject | None = None) -> BuildReport:
    """Fetch DFPT phonon DOS and write ``mp_id, structure, phfreq, phdos`` rows.

    Args:
        out_path: CSV to write.
        material_ids: materials to fetch; or
        query: summary-search criteria (``chemsys``, ``formula``, ``elements``) for materials with phonons.
        client: a :class:`MaterialsProject` (default: from the environment).

    Returns:
        The report of written and skipped ids.
    """
    client = client or MaterialsProject()
    if material_ids is None:
        if not query:
            raise InputError("data phdos", "give material ids or a query")
        material_ids = client.search_phonon_materials(query)
        if not material_ids:
            raise InputError("query", f"no material with phonon data matches {query}")
    material_ids = list(dict.fromkeys(material_ids))
    report = BuildReport(Path(out_path))
    rows = []
    phonon_ids = client.phonon_ids(material_ids)
    for mp_id in material_ids:
        ids = phonon_ids[mp_id]
        if ids is None:
            report.skipped[mp_id] = "unknown id (no such material in the Materials Project)"
            continue
        if not ids:
            report.skipped[mp_id] = "no DFPT phonon data"
            continue
        record = client.phonon(mp_id, ids[0])
        try:
            dos = process_raw_dos_thz(record.freq_thz, record.dos, mp_id)
        except InputError as exc:
            report.skipped[mp_id] = exc.problem
            continue
        rows.append([mp_id, structure_to_ase_dict_text(record.structure), json.dumps(PHDOS_GRID_CM1.tolist()),
                     json.dumps(dos.tolist())])
        report.written.append(mp_id)
    if not rows:
        raise InputError(str(out_path), f"nothing to write: all {len(material_ids)} materials were skipped "
                                        f"({_first_reasons(report.skipped)})")

    def write(tmp):
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["mp_id", "structure", "phfreq", "phdos"])
            writer.writerows(rows)

    atomic_write(report.path, write)
    return report


def build_xas_dataset(out_dir: str | os.PathLike, element: str, edge: str = "K",
                      material_ids: list[str] | None = None, client: MaterialsProject | None = None,
                      split: str = "train") -> BuildReport:
    """Fetch XANES documents of ``element``/``edge`` and write an equispec XAS folder on the OmniXAS grid.

    Args:
        out_dir: folder to write (``xas_spectra.npz`` + ``structures.json.gz``).
        element: absorbing element with an OmniXAS window (:data:`~equispec.data.xas.OMNIXAS_START_EV`).
        edge: absorption edge (only ``K`` has OmniXAS windows).
        material_ids: materials to fetch (default: every material with such a document).
        split: the ``split`` value of every row.
    """
    if edge not in XAS_EDGES:
        raise InputError(edge, f"unknown edge (known: {', '.join(XAS_EDGES)})")
    if edge != "K":
        raise InputError(edge, "the OmniXAS grid is defined for K edges only")
    grid = omnixas_grid_ev(element)
    client = client or MaterialsProject()
    if material_ids is not None:
        material_ids = list(dict.fromkeys(material_ids))
    documents = client.xas(element, edge, material_ids)
    report = BuildReport(Path(out_dir))
    columns: dict[str, list] = {k: [] for k in ("material_id", "site_index", "spectrum")}
    poscars: dict[str, str] = {}
    for mp_id, records in documents.items():
        if not records:
            report.skipped[mp_id] = f"no {element} {edge}-edge XANES document (or unknown id)"
            continue
        for record in records:
            label = f"{mp_id} site {record.site_index}"
            order = np.argsort(record.energy_ev)
            energy, mu = record.energy_ev[order], record.mu[order]
            if energy[0] > grid[0] or energy[-1] < grid[-1]:
                report.skipped[label] = (f"spectrum covers {energy[0]:.1f}-{energy[-1]:.1f} eV, not the whole "
                                         f"OmniXAS window {grid[0]:.1f}-{grid[-1]:.1f} eV")
                continue
            if (mp_id, record.site_index) in set(zip(columns["material_id"], columns["site_index"])):
                continue  # the same site twice (e.g. two documents): keep the first
            columns["material_id"].append(mp_id)
            columns["site_index"].append(record.site_index)
            columns["spectrum"].append(np.interp(grid, energy, mu))
            poscars[mp_id] = _poscar(record.structure)
            report.written.append(label)
    if not report.written:
        raise InputError(str(out_dir), f"nothing to write: no usable {element} {edge}-edge spectrum "
                                       f"({_first_reasons(report.skipped)})")
    n = len(report.written)
    dataset = XasDataset(np.array(columns["material_id"]), np.array(columns["site_index"], dtype=np.int64),
                         np.full(n, element), np.full(n, edge), np.full(n, split), grid,
                         np.stack(columns["spectrum"]), poscars, str(out_dir))
    write_xas_dataset(out_dir, dataset)
    return report


def _poscar(structure: Structure) -> str:
    from pymatgen.io.vasp import Poscar

    return Poscar(structure).get_str(significant_figures=12)


def _first_reasons(skipped: dict[str, str], n: int = 3) -> str:
    items = list(skipped.items())
    text = "; ".join(f"{k}: {v}" for k, v in items[:n])
    return text + (f"; and {len(items) - n} more" if len(items) > n else "")
