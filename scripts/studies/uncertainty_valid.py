"""How well the ensemble's ±2σ band covers the DFPT DOS, and whether its spread ranks the errors.

    python scripts/studies/uncertainty_valid.py ../shared/data/phdos/phdos_trainval.csv \
        ../shared/data/phdos/splits/valid_mp_ids.txt [--model phdos] [-o runs/uncertainty_valid.json]

σ is the ensemble members' population spread on the scale of the (max-normalised) mean prediction.
Prints and writes: the fraction of (material, bin) values of the DFPT DOS within prediction ± 2σ, its per-material
distribution, and the Spearman rank correlation between mean σ per material and MSE per material.

Reported in ``docs/uncertainty.md`` (the coverage table; command at the end of the page).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes"))  # _valid_predictions.py
from _valid_predictions import ensemble_table, parser  # noqa: E402


def coverage_report(truth: np.ndarray, prediction: np.ndarray, std: np.ndarray, ids: list[str]) -> dict:
    """Coverage of ``truth`` by ``prediction ± 2 std`` (all (n, bins)) and the σ-vs-error rank correlation."""
    inside = np.abs(truth - prediction) <= 2 * std
    per_material = inside.mean(axis=1)
    mse = ((truth - prediction) ** 2).mean(axis=1)
    sigma = std.mean(axis=1)
    rho, p_value = spearmanr(sigma, mse)
    # factor k such that prediction ± 2kσ covers 95% of the values (k = 1 for a calibrated Gaussian band)
    z = np.abs(truth - prediction) / np.maximum(2 * std, 1e-12)
    return {"n_materials": len(ids), "n_bins": int(truth.shape[1]),
            "coverage_2sigma": float(inside.mean()),
            "coverage_2sigma_nonzero_truth": float(inside[truth > 0.01].mean()),
            "coverage_2sigma_per_material": {"mean": float(per_material.mean()),
                                             "median": float(np.median(per_material)),
                                             "p10": float(np.percentile(per_material, 10)),
                                             "p90": float(np.percentile(per_material, 90)),
                                             "min": float(per_material.min()),
                                             "max": float(per_material.max())},
            "spearman_mean_sigma_vs_mse": float(rho), "spearman_p_value": float(p_value),
            "mean_sigma": float(sigma.mean()), "mean_mse": float(mse.mean()),
            "ratio_rms_error_to_mean_sigma": float(np.sqrt(mse.mean()) / sigma.mean()),
            "sigma_scale_for_95_coverage": float(np.percentile(z, 95)),
            "per_material": {i: {"coverage_2sigma": float(c), "mean_sigma": float(s), "mse": float(m)}
                             for i, c, s, m in zip(ids, per_material, sigma, mse)}}


def main(argv=None) -> int:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    found = ensemble_table(args, "uncertainty_valid", "assess")
    if found is None:
        return 2
    table, predictions, spread = found
    report = {"model": args.model, "data": str(args.data_csv), "ids": str(args.ids),
              **coverage_report(table.dos, predictions, spread, table.ids)}
    per = report["coverage_2sigma_per_material"]
    print(f"{report['n_materials']} materials x {report['n_bins']} bins")
    print(f"coverage of DFPT DOS by prediction ±2σ: {report['coverage_2sigma']:.3f} of all (material, bin) values, "
          f"{report['coverage_2sigma_nonzero_truth']:.3f} where the DFPT DOS > 0.01")
    print(f"per material: mean {per['mean']:.3f}, median {per['median']:.3f}, 10-90% {per['p10']:.3f}-{per['p90']:.3f}")
    print(f"Spearman(mean σ, MSE) per material: {report['spearman_mean_sigma_vs_mse']:.3f} "
          f"(p = {report['spearman_p_value']:.2g})")
    print(f"mean σ {report['mean_sigma']:.4f}, RMS error / mean σ {report['ratio_rms_error_to_mean_sigma']:.2f}, "
          f"σ would need scaling by {report['sigma_scale_for_95_coverage']:.2f} for ±2σ to cover 95%")
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
