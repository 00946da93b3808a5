"""``equispec predict | evaluate | train``: each subcommand is a thin call into the Python API.

Any :class:`~equispec.errors.EquispecError` becomes ``equispec: error: SOURCE: problem`` on stderr and
exit status 2, with no traceback. Nothing here touches the network or loads torch before it is needed.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="equispec", description="Predict phonon DOS (and more) of crystals "
                                     "with E(3)-equivariant networks.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("predict", help="predict spectra of structure files")
    p.add_argument("files", nargs="+", metavar="FILE", help="CIF, POSCAR or any file pymatgen/ASE reads")
    p.add_argument("--model", default="phdos", help="shipped model name or model directory (default: phdos)")
    p.add_argument("-o", "--output", metavar="OUT", help="write spectra to OUT.csv or OUT.json")
    p.add_argument("--plot", metavar="OUT.png", help="write a plot of the spectra")
    p.add_argument("--batch-size", type=int, default=64)

    e = sub.add_parser("evaluate", help="score a model on a labelled CSV")
    e.add_argument("--model", default="phdos", help="shipped model name or model directory")
    e.add_argument("--data", required=True, metavar="CSV", help="CSV in the phonon-DOS data set format")
    e.add_argument("--ids", metavar="IDS.txt", help="score only these mp-ids (one per line)")
    e.add_argument("--json", action="store_true", help="print one JSON object with n, mse, mae, r2, wasserstein_cm1")

    t = sub.add_parser("train", help="train a model from a YAML config")
    t.add_argument("config", metavar="CONFIG.yaml")
    t.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value, e.g. --set optim.max_epochs=10 (repeatable)")
    t.add_argument("--output-dir", help="override output_dir")

    m = sub.add_parser("ensemble", help="merge trained model directories into one ensemble model")
    m.add_argument("members", nargs="+", metavar="MODEL_DIR")
    m.add_argument("-o", "--output", required=True, metavar="DIR", help="ensemble model directory to write")
    m.add_argument("--data", metavar="CSV", help="labelled CSV to score the ensemble on (stored as valid_metrics)")
    m.add_argument("--ids", metavar="IDS.txt", help="ids of the validation split in --data")

    _add_data_parser(sub)
    return parser


def _add_data_parser(sub) -> None:
    """``equispec data phdos|xas``: training data from the Materials Project (needs MP_API_KEY)."""
    d = sub.add_parser("data", help="build training data from the Materials Project (needs MP_API_KEY)")
    kinds = d.add_subparsers(dest="data_kind", required=True)
    ph = kinds.add_parser("phdos", help="DFPT phonon DOS -> CSV in the phonon-DOS data set format")
    source = ph.add_mutually_exclusive_group(required=True)
    source.add_argument("--ids", metavar="IDS.txt", help="Materials Project ids, one per line")
    source.add_argument("--query", action="append", metavar="KEY=VALUE",
                        help="materials with phonons matching chemsys=, formula= or elements= (repeatable)")
    ph.add_argument("-o", "--output", required=True, metavar="OUT.csv")
    xa = kinds.add_parser("xas", help="K-edge XANES -> equispec XAS folder on the OmniXAS 141-point grid")
    xa.add_argument("--element", required=True, help="absorbing element, e.g. Cu")
    xa.add_argument("--edge", default="K", help="absorption edge (default: K)")
    xa.add_argument("--ids", metavar="IDS.txt", help="only these Materials Project ids (default: all)")
    xa.add_argument("--split", default="train", help="split value of every row (default: train)")
    xa.add_argument("-o", "--output", required=True, metavar="OUT_DIR")


def _prefetch_mp_ids(files: list[str]) -> None:
    """Fetch (or find cached) the structures of Materials Project ids among ``predict``'s arguments."""
    import os
    import re

    ids = [f for f in files if re.match(r"^(mp|mvc)-\d+$", f) and not os.path.exists(f)]
    if ids:
        from ..data.materials_project import MaterialsProject

        client = MaterialsProject()
        for mp_id in ids:
            client.structure(mp_id)


def _data(args) -> int:
    from ..data.datasets import read_ids
    from ..data.mp_datasets import build_phdos_csv, build_xas_dataset
    from ..errors import InputError

    ids = read_ids(args.ids) if args.ids else None
    if args.data_kind == "phdos":
        query = None
        if args.query:
            pairs = [item.split("=", 1) for item in args.query]
            if any(len(p) != 2 or p[0] not in ("chemsys", "formula", "elements") for p in pairs):
                raise InputError("--query", "expected chemsys=..., formula=... or elements=A,B")
            query = dict(pairs)
        report = build_phdos_csv(args.output, material_ids=ids, query=query)
    else:
        report = build_xas_dataset(args.output, args.element, args.edge, material_ids=ids, split=args.split)
    print("\n".join(report.summary_lines()))
    return 0


def _version() -> str:
    from .. import __version__

    return f"equispec {__version__}"


def _predict(args) -> int:
    from ..api import load_model
    from ..io.spectra import plot_phdos, summary_line, write_phdos

    _prefetch_mp_ids(args.files)  # before the model loads, so that no key / no network fails in seconds
    predictor = load_model(args.model)
    predictions = predictor.predict(args.files, batch_size=args.batch_size, progress=len(args.files) > 100)
    for prediction in predictions:
        print(summary_line(prediction))
    if args.output:
        print(f"wrote {write_phdos(predictions, args.output)}")
    if args.plot:
        print(f"wrote {plot_phdos(predictions, args.plot)}")
    return 0


def _evaluate(args) -> int:
    from ..api import load_model

    metrics, _, _ = load_model(args.model).evaluate(args.data, args.ids)
    if args.json:
        print(json.dumps(metrics))
    else:
        print(f"n = {metrics['n']}\nmse = {metrics['mse']:.5f}\nmae = {metrics['mae']:.5f}\n"
              f"r2 = {metrics['r2']:.4f}\nwasserstein_cm1 = {metrics['wasserstein_cm1']:.2f}")
    return 0


def _train(args) -> int:
    from ..training import load_config, train

    config = load_config(args.config, args.overrides)
    if args.output_dir:
        config.output_dir = args.output_dir
    directory = train(config)
    print(f"model written to {directory}")
    return 0


def _ensemble(args) -> int:
    from ..api import PhononDosPredictor
    from ..io.checkpoint import ensemble_from_dirs, save_model_dir

    model, metadata = ensemble_from_dirs(args.members)
    if args.data:  # score before writing, so that a failed evaluation leaves nothing behind
        metrics, _, _ = PhononDosPredictor(model, metadata, name=args.output).evaluate(args.data, args.ids)
        metadata["valid_metrics"] = metrics
        metadata["valid_data"] = {"csv": args.data, "ids": args.ids}
        print(json.dumps(metrics))
    directory = save_model_dir(model, args.output, metadata.pop("architecture"), metadata.pop("hyperparameters"),
                               **metadata)
    print(f"wrote {directory}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..errors import EquispecError

    warnings.filterwarnings("ignore", module="pymatgen")
    try:
        return {"predict": _predict, "evaluate": _evaluate, "train": _train, "ensemble": _ensemble,
                "data": _data}[args.command](args)
    except EquispecError as exc:
        print(f"equispec: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("equispec: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
