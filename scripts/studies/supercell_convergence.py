"""How the force-constant DOS of physics mode converges with the supercell, per potential (issue 24).

For each structure (valid-split materials drawn with a seed, as ``scripts/bench/bench.py`` draws them), the DOS is
computed with finite displacements at several minimum supercell lengths and compared with the largest one:
the label-processed 51-bin DOS (max-normalised, the scale of every physics-mode score) and the full-range DOS
after a 1 meV FWHM Gaussian (what a neutron spectrometer resolves), relative to its maximum. Results go to a
JSON file, one structure at a time, so an interrupted run resumes where it stopped. ``docs/physics.md`` reports the
result for SevenNet-l3i5 (with the MSE of each length to the DFPT labels).

    python scripts/studies/supercell_convergence.py --potential 7net-l3i5 --lengths 7.5 10 13 --n 12 \\
        --out docs/studies/supercell_convergence_7net-l3i5.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHARED_PHDOS = ROOT.parent / "shared" / "data" / "phdos"


def smoothed(energy_mev: np.ndarray, dos: np.ndarray, fwhm_mev: float = 1.0) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(dos, fwhm_mev / 2.3548 / (energy_mev[1] - energy_mev[0]))


def compare(reference: dict, other: dict) -> dict:
    """Differences of ``other`` from ``reference`` (both as stored in the JSON)."""
    label = float(np.abs(np.asarray(other["dos"]) - np.asarray(reference["dos"])).max())
    grid = np.asarray(reference["full_energy_mev"])
    ref_full = smoothed(grid, np.asarray(reference["full_dos"]))
    other_full = smoothed(grid, np.interp(grid, other["full_energy_mev"], other["full_dos"], right=0.0))
    return {"label_max_abs": label, "full_max_rel": float(np.abs(other_full - ref_full).max() / ref_full.max())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--potential", default="7net-l3i5")
    parser.add_argument("--lengths", type=float, nargs="+", default=[7.5, 10.0, 13.0],
                        help="minimum supercell lengths in Å; the last is the reference")
    parser.add_argument("--n", type=int, default=12, help="valid structures (seed 0)")
    parser.add_argument("--max-atoms", type=int, default=400, help="skip a structure whose reference supercell is larger")
    parser.add_argument("--data-csv", default=str(SHARED_PHDOS / "phdos_trainval.csv"))
    parser.add_argument("--valid-ids", default=str(SHARED_PHDOS / "splits" / "valid_mp_ids.txt"))
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    from equispec.data.datasets import read_ids, read_phdos_csv
    from equispec.errors import EquispecError
    from equispec.physics.phonopy_dos import PhysicsDosSettings, physics_dos, supercell_matrix

    ids = sorted(np.random.default_rng(0).choice(read_ids(args.valid_ids), size=args.n, replace=False).tolist())
    table = read_phdos_csv(args.data_csv).subset(ids, "valid ids")
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {"potential": args.potential, "lengths": args.lengths,
                                                               "structures": {}}
    base = PhysicsDosSettings(potential=args.potential, displacements="finite")
    for mp_id, structure in zip(table.ids, table.structures):
        if mp_id in results["structures"]:
            continue
        reference_atoms = len(structure) * int(np.prod(supercell_matrix(structure, args.lengths[-1])))
        if reference_atoms > args.max_atoms:
            results["structures"][mp_id] = {"skipped": f"{reference_atoms} atoms at {args.lengths[-1]} Å"}
            continue
        row = {"formula": structure.composition.reduced_formula, "atoms": len(structure), "by_length": {}}
        for length in args.lengths:
            started = time.perf_counter()
            try:
                result = physics_dos(structure, name=mp_id, settings=replace(base, supercell_ang=length), partial=False)
            except EquispecError as exc:
                row["by_length"][str(length)] = {"error": str(exc)}
                continue
            row["by_length"][str(length)] = {
                "supercell": result.supercell, "supercell_atoms": len(result.phonon.supercell),
                "displacements": result.num_displacements, "seconds": time.perf_counter() - started,
                "imaginary_fraction": result.imaginary_fraction, "dos": result.dos.tolist(),
                "full_energy_mev": result.full_range.energy_mev.tolist(), "full_dos": result.full_range.dos.tolist()}
        reference = row["by_length"].get(str(args.lengths[-1]), {})
        if "dos" in reference:
            for length, entry in row["by_length"].items():
                if "dos" in entry:
                    entry.update(compare(reference, entry))
        for entry in row["by_length"].values():  # the fine grids are compared; only the 51-bin DOS is kept
            entry.pop("full_energy_mev", None)
            entry.pop("full_dos", None)
        results["structures"][mp_id] = row
        out.write_text(json.dumps(results))
        print(mp_id, row["formula"], {k: (v.get("supercell_atoms"), round(v.get("label_max_abs", float("nan")), 4),
                                          round(v.get("full_max_rel", float("nan")), 4)) for k, v in row["by_length"].items()},
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
