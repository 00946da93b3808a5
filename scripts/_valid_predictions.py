"""Shared by ``uncertainty_valid.py`` and ``thermo_valid.py``: a model's predictions (and ensemble spread) on the
materials of a labelled phonon-DOS CSV restricted to an id list."""

from __future__ import annotations

import argparse

from equispec.api import load_model


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
