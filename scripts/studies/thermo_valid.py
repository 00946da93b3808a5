"""Errors of thermodynamics derived from the predicted DOS against the same quantities from the DFPT DOS labels.

    python scripts/studies/thermo_valid.py ../shared/data/phdos/phdos_trainval.csv \
        ../shared/data/phdos/splits/valid_mp_ids.txt [--baseline-ids ../shared/data/phdos/splits/train_mp_ids.txt]
        [--model phdos] [-o runs/thermo_valid.json]

Both DOS are the 51-point, max-normalised spectra, renormalised to 3N modes by ``equispec.physics.thermo``
(the labels are used as given, not re-derived from raw DFPT data). Prints MAE of Cv, S, F at the chosen
temperature and of the mean frequency, per mole of atoms and per mole of formula units; with ``--baseline-ids``
also the MAE of the mean DOS of those (training) materials used as a prediction for every material.

Reported in ``docs/uncertainty.md`` (the thermodynamics table; command at the end of the page).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes"))  # _valid_predictions.py
from _valid_predictions import parser, predict_table  # noqa: E402

from equispec.physics.thermo import phonon_thermodynamics  # noqa: E402
from equispec.data.datasets import read_ids, read_phdos_csv  # noqa: E402
from equispec.errors import EquispecError  # noqa: E402

QUANTITIES = {"cv_j_per_k_mol": "Cv (J/(K mol))", "entropy_j_per_k_mol": "S (J/(K mol))",
              "free_energy_kj_per_mol": "F (kJ/mol)", "mean_freq_cm1": "mean frequency (cm^-1)"}


def derived(freq_cm1, dos, structure, temperature_k: float) -> dict:
    """{"atom": {quantity: value}, "formula unit": {...}} at one temperature."""
    atom = phonon_thermodynamics(freq_cm1, dos, temperature_k, structure)
    values = {}
    for basis, result in (("atom", atom), ("formula unit", atom.per_formula_unit())):
        values[basis] = {q: float(np.atleast_1d(getattr(result, q))[0]) for q in QUANTITIES}
    return values


def errors(truth: list[dict], predicted: list[dict]) -> dict:
    return {basis: {q: {"mae": float(np.mean([abs(p[basis][q] - t[basis][q]) for t, p in zip(truth, predicted)])),
                        "mean_true": float(np.mean([t[basis][q] for t in truth]))}
                    for q in QUANTITIES} for basis in ("atom", "formula unit")}


def main(argv=None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--temperature-k", type=float, default=300.0, help="temperature in K (default: %(default)s)")
    p.add_argument("--baseline-ids", metavar="IDS", help="ids whose mean DOS is scored as a trivial baseline")
    args = p.parse_args(argv)
    try:
        table, _, predictions, _ = predict_table(args)
        baseline = None
        if args.baseline_ids:
            train = read_phdos_csv(args.data_csv).subset(read_ids(args.baseline_ids), args.baseline_ids)
            baseline = train.dos.mean(axis=0)
    except EquispecError as error:
        print(f"thermo_valid: error: {error}", file=sys.stderr)
        return 2
    t = args.temperature_k
    f = table.freq_cm1
    truth = [derived(f, d, s, t) for d, s in zip(table.dos, table.structures)]
    predicted = [derived(f, d, s, t) for d, s in zip(predictions, table.structures)]
    report = {"model": args.model, "data": str(args.data_csv), "ids": str(args.ids), "temperature_k": t,
              "n_materials": len(table.ids), "model_errors": errors(truth, predicted)}
    if baseline is not None:
        report["baseline_ids"] = str(args.baseline_ids)
        report["baseline_errors"] = errors(truth, [derived(f, baseline, s, t) for s in table.structures])
    report["per_material"] = {i: {"dfpt": tr, "predicted": pr} for i, tr, pr in zip(table.ids, truth, predicted)}
    print(f"{len(table.ids)} materials, T = {t:g} K; MAE (mean of the DFPT value)")
    for basis in ("atom", "formula unit"):
        print(f"per mole of {basis}s:")
        for q, label in QUANTITIES.items():
            if basis == "formula unit" and q == "mean_freq_cm1":
                continue
            line = (f"  {label:24s} model {report['model_errors'][basis][q]['mae']:.3f} "
                    f"({report['model_errors'][basis][q]['mean_true']:.3f})")
            if baseline is not None:
                line += f", training-mean DOS {report['baseline_errors'][basis][q]['mae']:.3f}"
            print(line)
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
