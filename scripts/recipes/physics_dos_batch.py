"""Force-constant phonon DOS (a SevenNet potential + phonopy, ``equispec.physics``) for the materials of a
labelled phonon-DOS CSV, kept raw in an ``.npz`` so that the hybrid fit can rescale frequencies
without recomputing forces. Resumable: ids already in the output are skipped.

    python scripts/recipes/physics_dos_batch.py ../shared/data/phdos/phdos_trainval.csv IDS.txt -o runs/physics.npz \
        [--potential 7net-0|7net-l3i5] [--relax]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from equispec.data.datasets import read_ids, read_phdos_csv
from equispec.errors import EquispecError
from equispec.io.files import atomic_savez
from equispec.nn.pretrained.table import DEFAULT_POTENTIAL
from equispec.physics import POTENTIALS, PhysicsDosSettings, physics_dos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv")
    parser.add_argument("ids")
    parser.add_argument("-o", "--output", required=True, help=".npz of raw DOS per id (updated in place)")
    parser.add_argument("--limit", type=int, help="a random sample of this many ids (seed 0)")
    parser.add_argument("--potential", choices=POTENTIALS, default=DEFAULT_POTENTIAL)
    parser.add_argument("--relax", action="store_true", help="relax atomic positions at fixed cell first")
    parser.add_argument("--reverse", action="store_true", help="work from the last id (a second worker on "
                        "another output file; merge the caches afterwards)")
    args = parser.parse_args()
    settings = PhysicsDosSettings(potential=args.potential, relax=args.relax)
    ids = read_ids(args.ids)
    if args.limit:
        ids = sorted(np.random.default_rng(0).choice(ids, size=min(args.limit, len(ids)), replace=False).tolist())
    table = read_phdos_csv(args.csv).subset(ids, args.ids)
    out = Path(args.output)
    stored = dict(np.load(out, allow_pickle=False)) if out.is_file() else {}
    work = list(zip(table.ids, table.structures))
    for mp_id, structure in tqdm(work[::-1] if args.reverse else work, desc="physics DOS", unit="structure"):
        if f"{mp_id}/info" in stored:
            continue
        try:
            result = physics_dos(structure, name=mp_id, partial=False, settings=settings)
            stored[f"{mp_id}/raw_freq_cm1"] = result.raw_freq_cm1
            stored[f"{mp_id}/raw_dos"] = result.raw_dos
            info = {"seconds": result.seconds, "imaginary_fraction": result.imaginary_fraction,
                    "min_frequency_cm1": result.min_frequency_cm1, "supercell": result.supercell,
                    "num_atoms": len(structure), "num_displacements": result.num_displacements,
                    "potential": args.potential, "relax": args.relax}
        except EquispecError as exc:
            info = {"error": str(exc)}
        stored[f"{mp_id}/info"] = np.array(json.dumps(info))
        atomic_savez(out, stored)


if __name__ == "__main__":
    main()
