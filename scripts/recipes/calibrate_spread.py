"""Calibrate a phonon-DOS ensemble's spread on the valid split and check what the calibration promises.

    python scripts/recipes/calibrate_spread.py ../shared/data/phdos/phdos_trainval.csv \\
        ../shared/data/phdos/splits/valid_mp_ids.txt [--model phdos] [--feature-cache NPZ] \\
        [-o runs/spread_calibration.json] [--write]

Fits the ``spread_calibration`` record (``equispec.models.calibration``: a conformal scale of sigma for 95 %
coverage of ±2 sigma, and the valid materials' expected-error distribution), prints the in-sample and 5-fold
cross-fitted coverage and the MSE ratio of flagged materials (above the 90th percentile) to the rest, and with
``--write`` stores the record in the model directory's ``model.json``. Use valid labels only: the test split is
for blind evaluation.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from _valid_predictions import ensemble_table, parser
from equispec.workflows import resolve_model_dir
from equispec.io.files import atomic_write, sha256
from equispec.models.calibration import calibration_checks, fit_spread_calibration


def main(argv=None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true", help="store the record in the model's model.json")
    args = p.parse_args(argv)
    found = ensemble_table(args, "calibrate_spread", "calibrate")
    if found is None:
        return 2
    table, predictions, spread = found
    record = fit_spread_calibration(table.dos, predictions, spread)
    record.update(data={"csv": str(args.data_csv), "csv_sha256": sha256(args.data_csv), "ids": str(args.ids),
                        "ids_sha256": sha256(args.ids), "n": len(table.ids)},
                  created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  command="python scripts/recipes/calibrate_spread.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    checks = calibration_checks(table.dos, predictions, spread)
    print(f"{checks['n_materials']} materials x {checks['n_bins']} bins; sigma_scale k = {checks['sigma_scale']:.3f}")
    print(f"±2σ coverage: raw {checks['coverage_2sigma_raw']:.3f}, calibrated {checks['coverage_2sigma_calibrated']:.3f} "
          f"(in-sample), {checks['coverage_2sigma_cross_fitted']:.3f} ({checks['folds']}-fold cross-fitted; folds "
          f"{min(checks['coverage_2sigma_cross_fitted_per_fold']):.3f}-{max(checks['coverage_2sigma_cross_fitted_per_fold']):.3f})")
    print(f"flagged (> p90 expected error): {checks['n_flagged']} materials, MSE {checks['mse_ratio_flagged_vs_rest']:.2f}x "
          f"the rest (in-sample); cross-fitted {checks['n_flagged_cross_fitted']}, "
          f"{checks['mse_ratio_flagged_vs_rest_cross_fitted']:.2f}x")
    print(f"mean MSE {checks['mean_mse']:.4f}, mean expected MSE {checks['mean_expected_mse']:.4f}")
    if args.output:
        Path(args.output).write_text(json.dumps({"record": record, "checks": checks}, indent=1) + "\n")
        print(f"wrote {args.output}")
    if args.write:
        path = resolve_model_dir(args.model) / "model.json"
        info = json.loads(path.read_text())
        info["spread_calibration"] = record
        text = json.dumps(info, indent=2) + "\n"
        atomic_write(path, lambda tmp: Path(tmp).write_text(text))
        print(f"wrote spread_calibration into {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
