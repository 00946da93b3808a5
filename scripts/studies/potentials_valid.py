"""Every physics potential on the valid split, from one physics cache: the label-processed DOS against the
DFPT labels (MSE, MAE, Wasserstein), with the median seconds per structure each computation took.

    python scripts/studies/potentials_valid.py --data ../shared/data/phdos/phdos_trainval.csv \\
        --ids ../shared/data/phdos/splits/valid_mp_ids.txt --cache ~/.cache/equispec/physics \\
        [--potentials 7net-0 ...] [--cached-only]

Each row is ``equispec evaluate --mode physics --potential P --cache DIR`` on the same ids: a material the
cache lacks is computed (one thread: about 10-60 s each) unless ``--cached-only``, which scores, for every
potential, only the materials all of them have in the cache. Seconds are those stored with each entry, as
measured when it was computed (the machine's load at that time included).

Reported in ``docs/physics.md`` ("Six potentials").
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

import equispec
from equispec.data.datasets import read_ids, read_phdos_csv
from equispec.physics.cache import PhysicsDosCache
from equispec.nn.pretrained.table import POTENTIAL_NAMES


def _caches(names: list[str], root: str) -> dict:
    return {name: PhysicsDosCache(root, equispec.load_model("phdos", mode="physics", potential=name).physics_settings)
            for name in names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--ids", required=True)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--potentials", nargs="+", default=list(POTENTIAL_NAMES))
    parser.add_argument("--cached-only", action="store_true")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    ids = read_ids(args.ids)
    table = read_phdos_csv(args.data).subset(ids, args.ids)
    caches = _caches(args.potentials, args.cache)
    if args.cached_only:
        ids = [i for i, s in zip(table.ids, table.structures) if all(c.get(s) is not None for c in caches.values())]
        if not ids:
            raise SystemExit(f"{args.cache}: no material is cached for every one of {', '.join(args.potentials)}")
        table = table.subset(ids, "cached")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(ids) + "\n")
    rows = []
    for name in args.potentials:
        predictor = equispec.load_model("phdos", mode="physics", potential=name)
        metrics, _, _ = predictor.evaluate(args.data, handle.name, physics_cache=args.cache)
        seconds = [caches[name].get(s).info.get("seconds") for s in table.structures]
        seconds = [x for x in seconds if x is not None]
        rows.append({"potential": name, **metrics, "median_s": float(np.median(seconds)) if seconds else None})
        print(json.dumps(rows[-1]), flush=True)
    Path(handle.name).unlink()
    if args.json:
        Path(args.json).write_text(json.dumps({"ids": ids, "rows": rows}, indent=1) + "\n")
    print(f"\n| valid, {len(ids)} materials | MSE | MAE | Wasserstein (cm⁻¹) | physics failed | median s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['potential']} | {r['mse']:.4f} | {r['mae']:.4f} | {r['wasserstein_cm1']:.1f} | "
              f"{r['physics_failed']} | {r['median_s']:.1f} |")


if __name__ == "__main__":
    main()
