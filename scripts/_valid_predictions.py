"""Shared by ``uncertainty_valid.py`` and ``thermo_valid.py``: a model's predictions (and ensemble spread) on the
materials of a labelled phonon-DOS CSV restricted to an id list."""

from __future__ import annotations

import argparse

import numpy as np

from equispec.api import load_model
from equispec.data.datasets import build_graphs, pretrained_features, read_ids, read_phdos_csv
from equispec.errors import InputError


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
    table = read_phdos_csv(args.data_csv).subset(read_ids(args.ids), args.ids)
    if table.dos is None:
        raise InputError(args.data_csv, "has no phfreq/phdos columns: nothing to score against")
    if not np.allclose(table.freq_cm1, predictor.freq_cm1):
        raise InputError(args.data_csv, "frequency grid differs from the model's")
    labels = [f"{args.data_csv}: {mp_id}" for mp_id in table.ids]
    for structure, label in zip(table.structures, labels):
        predictor.check_elements(structure, label)
    name = predictor.info["hyperparameters"].get("pretrained")
    features = (pretrained_features(table.structures, name, table.ids, args.feature_cache, progress=False)
                if name else None)
    graphs = build_graphs(table.structures, predictor.cutoff_ang, labels, progress=False, pretrained=features)
    predictions, _, spread = predictor.predict_graphs(graphs, with_std=True)
    return table, predictor, predictions, spread
