"""Fit and score the hybrid phonon-DOS mode: the network and the physics DOS (SevenNet-0 + phonopy)
combined as ``w * network + (1 - w) * physics(frequencies * s)``, max-normalised.

The frequency scale s (the potential's systematic softness) is fitted on training materials by grid
search on the physics DOS alone. The weight w is NOT fitted there: the network has seen those materials
(its training MSE is a fifth of its valid MSE), so a fit on them trusts it far too much (measured: w =
0.95). w stays at the prior ``--network-weight`` (0.5, the plain average). Valid is scored once, for the
network, the physics DOS as computed and rescaled, the plain average, and the hybrid. Physics DOS come from
``scripts/recipes/physics_dos_batch.py`` caches. With ``--write`` the fit goes into the model's ``model.json``
(``hybrid`` record), which ``--mode hybrid`` reads.

    python scripts/recipes/fit_hybrid.py --fit runs/physics-train120.npz --valid runs/physics-valid.npz --write
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from equispec.workflows import load_model, resolve_model_dir
from equispec.data.datasets import read_ids, read_phdos_csv
from equispec.io.files import atomic_write
from equispec.metrics import spectrum_metrics
from equispec.models.hybrid import hybrid_rows
from equispec.nn.pretrained.table import DEFAULT_POTENTIAL
from equispec.physics.cache import scaled_label

SCALES = np.round(np.arange(0.90, 1.301, 0.01), 2)


def read_physics(path: str) -> dict:
    """id -> (raw_freq_cm1, raw_dos, info) from a physics_dos_batch cache (``a.npz+b.npz``: several workers'
    caches of one configuration); failed ids have no arrays."""
    data = {}
    for part in path.split("+"):
        with np.load(part, allow_pickle=False) as archive:
            data.update({key: archive[key] for key in archive.files})
    out = {}
    for key in data:
        if key.endswith("/info"):
            mp_id = key[: -len("/info")]
            info = json.loads(str(data[key]))
            arrays = (data[f"{mp_id}/raw_freq_cm1"], data[f"{mp_id}/raw_dos"]) if "error" not in info else (None, None)
            out[mp_id] = (*arrays, info)
    return out


def physics_labels(physics: dict, ids: list[str], scale: float) -> np.ndarray:
    """(n, 51) processed physics DOS with frequencies times ``scale``; NaN rows where it failed."""
    rows = []
    for mp_id in ids:
        freq, dos, _ = physics[mp_id]
        rows.append(np.full(51, np.nan) if freq is None else scaled_label(freq, dos, scale, mp_id))
    return np.stack(rows)


def network_predictions(model: str, table) -> tuple[np.ndarray, float]:
    predictor = load_model(model)
    started = time.perf_counter()
    graphs = predictor.graphs(table.structures, table.ids)
    dos, _ = predictor.predict_graphs(graphs)
    return dos, (time.perf_counter() - started) / len(table.ids)


def main() -> None:
    data = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "phdos"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", default=str(data / "phdos_trainval.csv"))
    parser.add_argument("--valid-ids", default=str(data / "splits" / "valid_mp_ids.txt"))
    parser.add_argument("--fit", required=True, help="physics cache of training materials (fit set)")
    parser.add_argument("--valid", required=True, help="physics cache of the valid materials")
    parser.add_argument("--model", default="phdos")
    parser.add_argument("--network-weight", type=float, default=0.5, help="w of the hybrid (default 0.5)")
    parser.add_argument("--write", action="store_true", help="store the fit in the model's model.json")
    parser.add_argument("--potential", default=DEFAULT_POTENTIAL, help="the potential both caches were computed with "
                        "(recorded with the fit; --mode hybrid then uses it)")
    parser.add_argument("--relax", action="store_true", help="the caches were computed with --relax")
    parser.add_argument("-o", "--output", default="runs/hybrid_valid.json")
    args = parser.parse_args()

    table = read_phdos_csv(args.csv)
    fit_physics, valid_physics = read_physics(args.fit), read_physics(args.valid)
    valid_ids = read_ids(args.valid_ids)
    missing = [i for i in valid_ids if i not in valid_physics]
    if missing:
        raise SystemExit(f"{args.valid}: no physics DOS for {len(missing)} valid ids (first {missing[0]})")
    fit_table = table.subset(sorted(fit_physics), args.fit)
    valid_table = table.subset(valid_ids, args.valid_ids)
    fit_network, _ = network_predictions(args.model, fit_table)  # only to show how optimistic it is
    valid_network, network_seconds = network_predictions(args.model, valid_table)

    fit_errors = {float(s): float(np.nanmean((physics_labels(fit_physics, fit_table.ids, s) - fit_table.dos) ** 2))
                  for s in SCALES}
    scale = min(fit_errors, key=fit_errors.get)
    fit_mse, weight = fit_errors[scale], args.network_weight
    network_fit_mse = float(np.mean((fit_network - fit_table.dos) ** 2))

    grid = table.freq_cm1
    ok = np.array([valid_physics[i][0] is not None for i in valid_ids])
    physics_1 = physics_labels(valid_physics, valid_ids, 1.0)
    physics_s = physics_labels(valid_physics, valid_ids, scale)
    seconds = [valid_physics[i][2].get("seconds") for i in valid_ids if valid_physics[i][0] is not None]
    rows = {
        "network (fast)": spectrum_metrics(grid, valid_table.dos, valid_network),
        "physics, as computed (valid where it ran)": spectrum_metrics(grid, valid_table.dos[ok], physics_1[ok]),
        f"physics, frequencies x {scale:.2f} (valid where it ran)": spectrum_metrics(grid, valid_table.dos[ok],
                                                                                   physics_s[ok]),
        "plain average of network and physics": spectrum_metrics(grid, valid_table.dos,
                                                                 hybrid_rows(valid_network, physics_1, 0.5)),
        f"hybrid: w={weight:.2f}, physics frequencies x {scale:.2f}": spectrum_metrics(
            grid, valid_table.dos, hybrid_rows(valid_network, physics_s, weight)),
    }
    result = {"fit": {"n": len(fit_table.ids), "frequency_scale": scale, "physics_mse_at_scale": fit_mse,
                      "physics_mse_unscaled": fit_errors[1.0], "network_weight": weight,
                      "network_mse_on_fit_materials": network_fit_mse},
              "valid": rows, "valid_physics_failed": int((~ok).sum()),
              "valid_physics_imaginary": int(sum(valid_physics[i][2].get("imaginary_fraction", 0) > 0 for i in valid_ids)),
              "seconds_per_structure": {"network": network_seconds, "physics_median": float(np.median(seconds)),
                                        "physics_mean": float(np.mean(seconds))}}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=1) + "\n")
    print(f"fit on {len(fit_table.ids)} training materials: physics MSE {fit_errors[1.0]:.4f} as computed, "
          f"{fit_mse:.4f} with frequencies x {scale:.2f}; network weight {weight:.2f} (prior; the network's MSE on "
          f"these training materials is {network_fit_mse:.4f})")
    print(f"| valid ({len(valid_ids)}) | MSE | MAE | R² | Wasserstein (cm⁻¹) |\n|---|---|---|---|---|")
    for name, m in rows.items():
        print(f"| {name} (n={m['n']}) | {m['mse']:.4f} | {m['mae']:.4f} | {m['r2']:.3f} | {m['wasserstein_cm1']:.1f} |")
    print(json.dumps(result["seconds_per_structure"]), f"physics failed on {result['valid_physics_failed']} valid")
    if args.write:
        directory = resolve_model_dir(args.model)
        info = json.loads((directory / "model.json").read_text())
        info["hybrid"] = {"frequency_scale": scale, "network_weight": weight, "potential": args.potential,
                          "relax": args.relax,
                          "fitted_on": {"n": len(fit_table.ids), "ids_from": args.fit, "physics_mse": fit_mse},
                          "valid_metrics": rows[list(rows)[-1]], "valid_ids": args.valid_ids,
                          "physics": f"{args.potential} + phonopy, equispec.physics.PhysicsDosSettings defaults"
                                     + (" with relaxation" if args.relax else "")}
        atomic_write(directory / "model.json", lambda tmp: Path(tmp).write_text(json.dumps(info, indent=2) + "\n"))
        print(f"wrote the hybrid record to {directory / 'model.json'}")


if __name__ == "__main__":
    main()
