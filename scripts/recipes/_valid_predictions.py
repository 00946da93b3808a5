"""Shared by ``calibrate_spread.py`` (here) and ``scripts/studies/uncertainty_valid.py`` and ``thermo_valid.py``
(which put this folder on ``sys.path``): a model's predictions (and ensemble spread) on the materials of a labelled
phonon-DOS CSV restricted to an id list."""

from __future__ import annotations

import argparse
import sys

from equispec.workflows import load_model
from equispec.errors import EquispecError


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("data_csv", help="labelled phonon-DOS CSV (mp_id, structure, phfreq, phdos)")
    p.add_argument("ids", help="file of mp-ids to score (one a line)")
    p.add_argument("--model", default="phdos", help="shipped model name or model directory (default: %(default)s)")
    p.add_argument("--feature-cache", metavar="NPZ",
                   help="npz cache of pretrained features by id (read, and written with new ones)")
    p.add_argument("-o", "--output", metavar="JSON", help="write the figures as JSON here")
    return p


def predict_table(args):
    """Returns (table, predictor, predictions (n, bins), spread (n, bins) or None)."""
    predictor = load_model(args.model)
    table, labels = predictor.labelled_table(args.data_csv, args.ids)
    graphs = predictor.graphs(table.structures, labels, ids=table.ids, feature_cache=args.feature_cache)
    predictions, _, spread = predictor.predict_graphs(graphs, with_std=True)
    return table, predictor, predictions, spread


def ensemble_table(args, prog: str, purpose: str):
    """:func:`predict_table` for a script that needs the ensemble spread: (table, predictions, spread), or None
    after one line on stderr (a bad input, or a model without members) for the script to exit 2."""
    try:
        table, _, predictions, spread = predict_table(args)
    except EquispecError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return None
    if spread is None:
        print(f"{prog}: error: {args.model}: not an ensemble, no spread to {purpose}", file=sys.stderr)
        return None
    return table, predictions, spread
