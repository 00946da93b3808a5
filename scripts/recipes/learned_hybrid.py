"""The learned hybrid (``equispec.models.hybrid``): K-fold splits, out-of-fold network predictions, the fit on
training materials and the score on valid.

    python scripts/recipes/learned_hybrid.py split TRAIN_IDS --folds 5 -o runs/oof
    python scripts/recipes/learned_hybrid.py predict-oof runs/oof --folds 5 --seeds 2 --csv CSV --feature-cache F.npz
    python scripts/recipes/learned_hybrid.py fit --oof runs/oof/oof_predictions.npz --fit-physics A.npz+B.npz \
        --valid-physics C.npz+D.npz --valid-ids runs/valid50_ids.txt [--write]

``scripts/recipes/train_learned_hybrid.sh`` runs all three. ``fit`` fits on the training materials that have both an
out-of-fold prediction and a physics DOS, then scores on valid, once each: the network, the physics DOS, the
fixed hybrid (0.5/0.5) and the learned one (all features, and each feature left out). With ``--write`` the
chosen learned hybrid goes into the model's ``hybrid`` record, which ``--mode hybrid`` reads.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_hybrid import physics_labels, read_physics  # noqa: E402

from equispec.data.datasets import read_ids, read_phdos_csv  # noqa: E402
from equispec.io.files import atomic_write  # noqa: E402
from equispec.metrics import spectrum_metrics  # noqa: E402
from equispec.models.hybrid import (RELIABILITY_FEATURES, OutOfFoldPredictions, element_fractions,  # noqa: E402
                                    fit_learned_hybrid, kfold_ids, reliability_features)
from equispec.models.hybrid import hybrid_rows as fixed_hybrid  # noqa: E402

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "phdos"


def split(args) -> None:
    """Held-out folds of the training ids (of those with a physics DOS in ``--physics``, when given: only they
    enter the fit); each fold's models train on every other training id."""
    ids = read_ids(args.ids)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    candidates = ids
    if args.physics:
        physics = read_physics(args.physics)
        candidates = [i for i in ids if i in physics and physics[i][0] is not None]
    parts = kfold_ids(candidates, args.folds, args.seed)
    for k, held_out in enumerate(parts):
        held = set(held_out)
        (out / f"fold{k}-heldout.txt").write_text("\n".join(held_out) + "\n")
        (out / f"fold{k}-train.txt").write_text("\n".join(i for i in ids if i not in held) + "\n")
    print(f"{len(candidates)} of {len(ids)} ids held out in {args.folds} folds of {[len(p) for p in parts]} -> {out}")


def predict_oof(args) -> None:
    from equispec.workflows import load_model

    out = Path(args.folder)
    table = read_phdos_csv(args.csv)
    rows = {"ids": [], "dos": [], "spread": [], "fold": []}
    fold_train = []
    for k in range(args.folds):
        held_out = read_ids(out / f"fold{k}-heldout.txt")
        fold_train.append(read_ids(out / f"fold{k}-train.txt"))
        assert not set(held_out) & set(fold_train[-1])
        part = table.subset(held_out)
        predictions = []
        for seed in range(args.seeds):
            predictor = load_model(out / f"fold{k}-seed{seed}" / "model")
            graphs = predictor.graphs(part.structures, part.ids, ids=part.ids, feature_cache=args.feature_cache)
            predictions.append(predictor.predict_graphs(graphs)[0])
        predictions = np.stack(predictions)
        rows["ids"] += part.ids
        rows["dos"].append(predictions.mean(0))
        rows["spread"].append(predictions.std(0))
        rows["fold"] += [k] * len(part.ids)
        print(f"fold {k}: {len(part.ids)} held out, MSE {np.mean((predictions.mean(0) - part.dos) ** 2):.4f}")
    arrays = {"ids": np.array(rows["ids"]), "dos": np.concatenate(rows["dos"]),
              "spread": np.concatenate(rows["spread"]), "fold": np.array(rows["fold"])}
    arrays.update({f"fold{k}_train_ids": np.array(ids) for k, ids in enumerate(fold_train)})
    np.savez(out / "oof_predictions.npz", **arrays)
    print(f"wrote {out / 'oof_predictions.npz'} ({len(rows['ids'])} rows)")


def read_oof(path: str) -> OutOfFoldPredictions:
    with np.load(path, allow_pickle=False) as archive:
        folds = int(archive["fold"].max()) + 1
        return OutOfFoldPredictions(archive["ids"].tolist(), archive["dos"], archive["spread"], archive["fold"],
                                    [set(archive[f"fold{k}_train_ids"].tolist()) for k in range(folds)])


def _elements(structure) -> list[str]:
    return [el.symbol for el in structure.composition.elements]


def fit(args) -> None:
    from equispec.workflows import load_model, resolve_model_dir

    table = read_phdos_csv(args.csv)
    by_id = {i: k for k, i in enumerate(table.ids)}
    oof = read_oof(args.oof)
    fit_physics, valid_physics = read_physics(args.fit_physics), read_physics(args.valid_physics)
    # training rows with a physics DOS (failed physics runs are left out of the fit)
    keep = [r for r, i in enumerate(oof.ids) if i in fit_physics and fit_physics[i][0] is not None]
    ids = [oof.ids[r] for r in keep]
    sub = OutOfFoldPredictions(ids, oof.dos[keep], oof.spread[keep], oof.fold[keep], oof.fold_train_ids)
    target = table.dos[[by_id[i] for i in ids]]
    physics = physics_labels(fit_physics, ids, args.frequency_scale)
    imaginary = np.array([fit_physics[i][2].get("imaginary_fraction", 0.0) for i in ids])
    fold_fractions = [element_fractions([_elements(table.structures[by_id[i]]) for i in train])
                      for train in oof.fold_train_ids]
    features = np.concatenate([
        reliability_features(sub.dos[r:r + 1], sub.spread[r:r + 1], physics[r:r + 1], imaginary[r:r + 1],
                             [_elements(table.structures[by_id[i]])], fold_fractions[int(sub.fold[r])])
        for r, i in enumerate(ids)])

    # valid: the shipped ensemble's mean; spread of the readout members the folds were trained like
    valid_ids = read_ids(args.valid_ids)
    valid = table.subset(valid_ids)
    predictor = load_model(args.model)
    graphs = predictor.graphs(valid.structures, valid.ids)
    network = predictor.predict_graphs(graphs)[0]
    members = predictor.member_predictions(graphs, args.spread_members)
    spread = members.std(0)
    train_ids = read_ids(args.train_ids)
    fractions = element_fractions([_elements(table.structures[by_id[i]]) for i in train_ids])
    valid_phys = physics_labels(valid_physics, valid_ids, args.frequency_scale)
    ok = ~np.isnan(valid_phys).any(axis=1)
    valid_phys_filled = np.where(ok[:, None], valid_phys, network)
    valid_imag = np.array([valid_physics[i][2].get("imaginary_fraction", 0.0) for i in valid_ids])
    valid_features = reliability_features(network, spread, valid_phys_filled, valid_imag,
                                          [_elements(s) for s in valid.structures], fractions)
    grid = table.freq_cm1
    rows = {"network (shipped ensemble, fast)": spectrum_metrics(grid, valid.dos, network),
            "physics (where it ran)": spectrum_metrics(grid, valid.dos[ok], valid_phys[ok]),
            "fixed hybrid 0.5/0.5": spectrum_metrics(grid, valid.dos, fixed_hybrid(network, valid_phys, 0.5))}
    fitted = {}
    variants = {"learned, all features": list(range(len(RELIABILITY_FEATURES))), "learned, per-bin weight only": []}
    variants.update({f"learned, without {name}": [j for j in range(len(RELIABILITY_FEATURES)) if j != k]
                     for k, name in enumerate(RELIABILITY_FEATURES)})
    for name, columns in variants.items():
        mask = np.zeros(len(RELIABILITY_FEATURES), bool)
        mask[columns] = True
        model = fit_learned_hybrid(sub, physics, target, np.where(mask, features, 0.0), l2=args.l2)
        fit_mse = float(np.mean((model.combine(sub.dos, physics, np.where(mask, features, 0.0)) - target) ** 2))
        combined = model.combine(network, valid_phys_filled, np.where(mask, valid_features, 0.0))
        combined[~ok] = network[~ok]
        rows[name] = spectrum_metrics(grid, valid.dos, combined)
        rows[name]["fit_mse"] = fit_mse
        fitted[name] = model
        print(name, "coefficients", np.round(model.coefficients, 3), "mean w",
              round(float(model.network_weight(np.where(mask, features, 0.0)).mean()), 3))
    result = {"fit": {"n": len(ids), "oof_network_mse": float(np.mean((sub.dos - target) ** 2)),
                      "physics_mse": float(np.mean((physics - target) ** 2)),
                      "fixed_hybrid_mse": float(np.mean((fixed_hybrid(sub.dos, physics, 0.5) - target) ** 2))},
              "valid_n": len(valid_ids), "valid": rows}
    Path(args.output).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["fit"]))
    print(f"| valid ({len(valid_ids)}) | MSE | MAE | Wasserstein (cm⁻¹) | fit MSE |\n|---|---|---|---|---|")
    for name, m in rows.items():
        print(f"| {name} | {m['mse']:.4f} | {m['mae']:.4f} | {m['wasserstein_cm1']:.1f} | {m.get('fit_mse', float('nan')):.4f} |")
    if args.write:
        chosen = args.write
        directory = resolve_model_dir(args.model)
        info = json.loads((directory / "model.json").read_text())
        record = dict(info["hybrid"])
        record["learned"] = {**fitted[chosen].to_dict(), "variant": chosen, "spread_members": args.spread_members,
                             "element_fractions": fractions,
                             "fitted_on": {"n": len(ids), "oof": args.oof, "physics": args.fit_physics,
                                           "fit_mse": rows[chosen]["fit_mse"]},
                             "valid_metrics": {k: v for k, v in rows[chosen].items() if k != "fit_mse"},
                             "valid_ids": args.valid_ids}
        info["hybrid"] = record
        atomic_write(directory / "model.json", lambda tmp: Path(tmp).write_text(json.dumps(info, indent=2) + "\n"))
        print(f"wrote the learned hybrid ({chosen}) to {directory / 'model.json'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("split")
    p.add_argument("ids")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--physics", help="physics caches (a.npz+b.npz): hold out only ids that have a physics DOS")
    p.add_argument("-o", "--output", required=True)
    p = sub.add_parser("predict-oof")
    p.add_argument("folder")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--csv", default=str(DATA / "phdos_trainval.csv"))
    p.add_argument("--feature-cache")
    p = sub.add_parser("fit")
    p.add_argument("--csv", default=str(DATA / "phdos_trainval.csv"))
    p.add_argument("--train-ids", default=str(DATA / "splits" / "train_mp_ids.txt"))
    p.add_argument("--valid-ids", required=True)
    p.add_argument("--oof", required=True)
    p.add_argument("--fit-physics", required=True)
    p.add_argument("--valid-physics", required=True)
    p.add_argument("--model", default="phdos")
    p.add_argument("--spread-members", type=int, nargs="+", default=[2, 3],
                   help="ensemble members whose spread stands for the folds' (default: readout seeds 0 and 1)")
    p.add_argument("--frequency-scale", type=float, default=1.0)
    p.add_argument("--l2", type=float, default=1e-3)
    p.add_argument("--write", metavar="VARIANT", help="store this variant in the model's hybrid record")
    p.add_argument("-o", "--output", default="runs/learned_hybrid.json")
    args = parser.parse_args()
    {"split": split, "predict-oof": predict_oof, "fit": fit}[args.command](args)


if __name__ == "__main__":
    main()
