"""Copy raw physics DOS from ``scripts/recipes/physics_dos_batch.py`` archives into the per-structure cache of
``equispec evaluate/predict --mode physics|hybrid`` (``equispec.physics.cache``), so that materials already
computed are not computed again.

    python scripts/recipes/seed_physics_cache.py CACHE_ROOT A.npz+B.npz [--potential 7net-l3i5] [--csv CSV] [--check]

Both store the same thing: ``physics_dos(structure, partial=False)`` at frequency scale 1 with the default
``PhysicsDosSettings`` (an archive made with ``--relax`` or another potential is refused). With ``--check``
nothing is written; every material that both hold is compared (raw DOS and frequencies), which is how a
copy is validated against a fresh computation. Entries already in the cache are never overwritten. A copied
entry's info says where it came from (``seeded_from``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_hybrid import read_physics  # noqa: E402

from equispec.data.datasets import read_phdos_csv  # noqa: E402
from equispec.physics.cache import PhysicsDosCache, RawPhysicsDos  # noqa: E402
from equispec.physics.phonopy_dos import PhysicsDosSettings  # noqa: E402

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "phdos"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache_root", help="e.g. $EQUISPEC_CACHE_DIR/physics")
    parser.add_argument("archives", help="physics_dos_batch.py outputs, joined with +")
    parser.add_argument("--potential", default="7net-l3i5")
    parser.add_argument("--csv", default=str(DATA / "phdos_trainval.csv"))
    parser.add_argument("--check", action="store_true", help="compare with what the cache holds; write nothing")
    args = parser.parse_args()
    cache = PhysicsDosCache(args.cache_root, PhysicsDosSettings(potential=args.potential))
    table = read_phdos_csv(args.csv)
    by_id = dict(zip(table.ids, table.structures))
    written = compared = 0
    for mp_id, (freq, dos, info) in read_physics(args.archives).items():
        if info.get("potential") != args.potential or info.get("relax"):
            raise SystemExit(f"{args.archives}: {mp_id} was computed with {info.get('potential')}, "
                             f"relax={info.get('relax')}")
        structure = by_id[mp_id]
        held = cache.get(structure)
        if held is not None:
            if "error" in info or held.error is not None:
                print(f"{mp_id}: error in archive {info.get('error')!r}, in cache {held.error!r}")
            else:
                same_grid = freq.shape == held.freq_cm1.shape and np.allclose(freq, held.freq_cm1)
                diff = float(np.max(np.abs(dos - held.dos))) if same_grid else float("nan")
                label_diff = float(np.max(np.abs(RawPhysicsDos(freq, dos).label() - held.label())))
                print(f"{mp_id}: in cache (seeded_from={held.info.get('seeded_from')}); same grid "
                      f"{same_grid}, max |raw DOS diff| {diff:.3g} (max raw {float(np.max(dos)):.3g}), "
                      f"max |label diff| {label_diff:.3g}")
            compared += 1
            continue
        if args.check:
            continue
        extra = {"seeded_from": f"{args.archives} (scripts/recipes/physics_dos_batch.py)"}
        extra.update({k: info[k] for k in ("imaginary_fraction", "min_frequency_cm1", "seconds", "supercell",
                                           "num_displacements", "num_atoms") if k in info})
        cache.put(structure, RawPhysicsDos(freq, dos, extra, info.get("error")), mp_id)
        written += 1
    print(f"{cache.folder}: {written} written, {compared} already there (compared)")


if __name__ == "__main__":
    main()
