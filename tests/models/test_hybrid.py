"""The learned hybrid: out-of-fold fitting (no training material's own network prediction enters its fit), a
known weighting recovered, and a JSON round trip."""

import json

import numpy as np
import pytest

from equispec.models.hybrid import combine_dos
from equispec.errors import ModelError
from equispec.models.hybrid import (RELIABILITY_FEATURES, LearnedHybrid, OutOfFoldPredictions, element_fractions,
                                    fit_learned_hybrid, kfold_ids, reliability_features)
from tests.conftest import PHDOS


def _oof_from_folds(ids, parts, dos, spread):
    """Rows in fold order, each predicted by its own fold, as scripts/recipes/learned_hybrid.py predict-oof writes them."""
    fold_train = [set(ids) - set(part) for part in parts]
    order = [i for part in parts for i in part]
    index = {i: k for k, i in enumerate(ids)}
    rows = [index[i] for i in order]
    fold = np.concatenate([[k] * len(part) for k, part in enumerate(parts)])
    return OutOfFoldPredictions(order, dos[rows], spread[rows], fold, fold_train), rows


def test_kfold_holds_every_training_material_out_exactly_once():
    ids = (PHDOS / "splits" / "train_mp_ids.txt").read_text().split()
    parts = kfold_ids(ids, 5, seed=0)
    held = [i for part in parts for i in part]
    assert sorted(held) == sorted(ids) and len(set(held)) == len(ids)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    for k, part in enumerate(parts):  # the models of fold k train on the other folds only
        train = set(ids) - set(part)
        assert not train & set(part)


def test_fit_refuses_a_prediction_from_a_model_that_trained_on_the_material():
    rng = np.random.default_rng(0)
    ids = [f"mp-{k}" for k in range(40)]
    parts = kfold_ids(ids, 4)
    dos, spread = rng.uniform(0, 1, (40, 51)), rng.uniform(0, 0.1, (40, 51))
    oof, rows = _oof_from_folds(ids, parts, dos, spread)
    physics, target = rng.uniform(0, 1, (40, 51)), rng.uniform(0, 1, (40, 51))
    features = rng.normal(size=(40, len(RELIABILITY_FEATURES)))
    fit_learned_hybrid(oof, physics, target, features, steps=5)  # out of fold: accepted

    leaked = OutOfFoldPredictions(oof.ids, oof.dos, oof.spread, oof.fold.copy(), oof.fold_train_ids)
    leaked.fold[0] = (leaked.fold[0] + 1) % 4  # row 0 now claims a model that trained on it
    with pytest.raises(ModelError, match="not an out-of-fold prediction"):
        fit_learned_hybrid(leaked, physics, target, features, steps=5)


def test_fit_learns_to_trust_the_part_that_is_right():
    """Target = physics where the physics has no imaginary modes, network where it has many: the fitted
    weight follows the imaginary fraction, and beats the plain average."""
    rng = np.random.default_rng(1)
    n = 200
    ids = [f"mp-{k}" for k in range(n)]
    network, physics = rng.uniform(0.05, 1, (n, 51)), rng.uniform(0.05, 1, (n, 51))
    network /= network.max(1, keepdims=True)
    physics /= physics.max(1, keepdims=True)
    imaginary = rng.choice([0.0, 0.3], n)
    target = np.where(imaginary[:, None] > 0, network, physics)
    oof, rows = _oof_from_folds(ids, kfold_ids(ids, 5), network, np.zeros((n, 51)))
    features = reliability_features(network, np.zeros((n, 51)), physics, imaginary, [["Si"]] * n, {"Si": 1.0})
    model = fit_learned_hybrid(oof, physics[rows], target[rows], features[rows], l2=1e-6)
    w = model.network_weight(features).mean(axis=1)
    assert w[imaginary > 0].min() > 0.8 and w[imaginary == 0].max() < 0.2
    learned = np.mean((model.combine(network, physics, features) - target) ** 2)
    plain = np.mean((combine_dos(network, {}, physics, {}, 0.5)[0] - target) ** 2)
    assert learned < 0.2 * plain


def test_learned_hybrid_json_round_trip_and_per_bin_combination():
    rng = np.random.default_rng(2)
    model = LearnedHybrid(rng.normal(size=51), rng.normal(size=4), rng.normal(size=4), rng.uniform(1, 2, 4))
    again = LearnedHybrid.from_dict(json.loads(json.dumps(model.to_dict())))
    features = rng.normal(size=(3, 4))
    np.testing.assert_array_equal(again.network_weight(features), model.network_weight(features))
    network, physics = rng.uniform(0, 1, 51), rng.uniform(0, 1, 51)
    w = model.network_weight(features[:1])[0]
    total, _ = combine_dos(network, {}, physics, {}, w)
    expected = w * network + (1 - w) * physics
    np.testing.assert_allclose(total, expected / expected.max())
    assert element_fractions([["Si"], ["Si", "O"]]) == {"O": 0.5, "Si": 1.0}
