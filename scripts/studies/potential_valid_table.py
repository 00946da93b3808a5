"""Valid-split table of physics and hybrid modes for several force configurations (potential, relaxation),
side by side on the materials every configuration finished, from ``scripts/recipes/physics_dos_batch.py`` caches.

    python scripts/studies/potential_valid_table.py 7net-0=runs/physics-valid50-7net-0.npz \\
        7net-l3i5=runs/physics-valid50-7net-l3i5.npz+runs/physics-valid50-7net-l3i5-rev.npz [--csv CSV] \
        [--scale 1.04] [-o runs/potential_table.json]

Rows per configuration: physics as computed, physics with the shipped hybrid's frequency scale, and the
hybrid ``0.5 fast + 0.5 physics x scale``; plus the fast network on the same materials. Times are the
caches' seconds per structure (total DOS only), as measured when they were written.

Reported in ``docs/physics.md`` ("Both potentials, with and without relaxation").
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes"))  # fit_hybrid.py, a step of the hybrid recipe
from fit_hybrid import hybrid, network_predictions, physics_labels, read_physics  # noqa: E402

from equispec.data.datasets import read_phdos_csv  # noqa: E402
from equispec.metrics import spectrum_metrics  # noqa: E402


def main() -> None:
    data = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "phdos"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("caches", nargs="+", metavar="LABEL=CACHE.npz")
    parser.add_argument("--csv", default=str(data / "phdos_trainval.csv"))
    parser.add_argument("--model", default="phdos")
    parser.add_argument("--scale", type=float, default=1.04, help="physics frequency scale of the hybrid")
    parser.add_argument("-o", "--output", default="runs/potential_table.json")
    args = parser.parse_args()

    caches = {label: read_physics(paths) for label, paths in (item.split("=", 1) for item in args.caches)}
    ids = sorted(set.intersection(*(set(c) for c in caches.values())))
    table = read_phdos_csv(args.csv).subset(ids, "caches")
    network, network_seconds = network_predictions(args.model, table)
    grid = table.freq_cm1
    rows = {"fast (shipped ensemble)": {**spectrum_metrics(grid, table.dos, network), "median_s": float("nan"),
                                        "mean_s": network_seconds}}
    for label, cache in caches.items():
        ok = np.array([cache[i][0] is not None for i in ids])
        seconds = [cache[i][2]["seconds"] for i in ids if cache[i][0] is not None]
        timing = {"median_s": float(np.median(seconds)), "mean_s": float(np.mean(seconds)),
                  "failed": int((~ok).sum()),
                  "imaginary": int(sum(cache[i][2].get("imaginary_fraction", 0) > 0.01 for i in ids if cache[i][0] is not None))}
        plain, scaled = physics_labels(cache, ids, 1.0), physics_labels(cache, ids, args.scale)
        rows[f"physics {label}"] = {**spectrum_metrics(grid, table.dos[ok], plain[ok]), **timing}
        rows[f"physics {label} x {args.scale:.2f}"] = {**spectrum_metrics(grid, table.dos[ok], scaled[ok]), **timing}
        rows[f"hybrid {label} (0.5 fast + 0.5 physics x {args.scale:.2f})"] = {
            **spectrum_metrics(grid, table.dos, hybrid(network, scaled, 0.5)), **timing}
        rows[f"hybrid {label} (0.5 fast + 0.5 physics as computed)"] = {
            **spectrum_metrics(grid, table.dos, hybrid(network, plain, 0.5)), **timing}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps({"ids": ids, "rows": rows}, indent=1) + "\n")
    print(f"| valid, {len(ids)} materials | MSE | MAE | Wasserstein (cm⁻¹) | median / mean s per structure | "
          ">1 % imaginary |")
    print("|---|---|---|---|---|---|")
    for name, m in rows.items():
        print(f"| {name} | {m['mse']:.4f} | {m['mae']:.4f} | {m['wasserstein_cm1']:.1f} | "
              f"{m['median_s']:.1f} / {m['mean_s']:.1f} | {m.get('imaginary', '')} |")


if __name__ == "__main__":
    main()
