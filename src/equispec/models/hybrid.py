"""A learned hybrid of the network's phonon DOS and the physics (potential + phonopy) DOS.

The fixed hybrid is ``0.5 * network + 0.5 * physics``. Either part fails in its own way: the network on
chemistry unlike its training set (its members then disagree), the potential on soft or unstable lattices
(imaginary modes) and where it is plainly off (it then disagrees with the network). The learned hybrid
gives the network, per material and frequency bin, the weight

    w = sigmoid(bin_logit[bin] + coefficients . standardised reliability features)

and combines ``w * network + (1 - w) * physics``, max-normalised again. It has ``n_bins + n_features``
numbers, stored in ``model.json`` (no pickle).

It must be fitted on network predictions the network did not train on: on its own training materials the
network's MSE is a fifth of its valid MSE, and a fit there trusts it far too much. :func:`kfold_ids` splits
the training materials, one model per fold predicts only its held-out materials
(:class:`OutOfFoldPredictions`), and :func:`fit_learned_hybrid` refuses a row whose prediction came from a
model that trained on that material.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelError

__all__ = ["RELIABILITY_FEATURES", "LearnedHybrid", "OutOfFoldPredictions", "combine_dos", "element_fractions",
           "fit_learned_hybrid", "hybrid_rows", "kfold_ids", "network_weights", "reliability_features"]

#: the reliability signals, in the order of ``LearnedHybrid.coefficients``
RELIABILITY_FEATURES = ("network_spread", "imaginary_fraction", "disagreement", "element_rarity")


def combine_dos(network_dos, network_partial: dict, physics_dos, physics_partial: dict, network_weight):
    """``w * network + (1 - w) * physics``, max-normalised again; partial DOS share the normalisation.
    ``network_weight``: a number, or one per frequency bin (the learned hybrid). Returns (total, partial)."""
    w = np.asarray(network_weight, dtype=float)
    total = w * np.asarray(network_dos) + (1 - w) * np.asarray(physics_dos)
    peak = total.max()
    partial = {el: (w * network_partial.get(el, 0.0) + (1 - w) * physics_partial.get(el, 0.0)) / peak
               for el in {*network_partial, *physics_partial}}
    return total / peak, partial


def hybrid_rows(network: np.ndarray, physics: np.ndarray, network_weight) -> np.ndarray:
    """(n, n_bins) :func:`combine_dos` row by row; ``network_weight`` one number, or one weight (a number or
    per-bin row) per material. A NaN physics row (the computation failed) leaves the network alone."""
    out = np.array(network, dtype=float)
    weights = [network_weight] * len(out) if np.ndim(network_weight) == 0 else network_weight
    for i, row in enumerate(physics):
        if not np.isnan(row).any():
            out[i] = combine_dos(network[i], {}, row, {}, weights[i])[0]
    return out


def network_weights(calibration, network: np.ndarray, physics: np.ndarray, imaginary_fraction, elements,
                    spread=None) -> list:
    """Per material, the network's weight in the hybrid that ``calibration``
    (``model_info.HybridCalibration``) describes: its fixed ``network_weight``, or per bin from its learned
    part.

    Args:
        network, physics: (n, n_bins) DOS; imaginary_fraction: (n,); elements: each material's symbols.
        spread: a callable returning the (n, n_bins) spread of the ensemble members named in the learned
            record (called only for a learned hybrid, since it runs the network again).
    """
    if calibration.learned is None:
        return [calibration.network_weight] * len(network)
    learned = calibration.learned
    features = reliability_features(network, spread(learned["spread_members"]), physics,
                                    np.asarray(imaginary_fraction, dtype=float), elements,
                                    learned["element_fractions"])
    return list(LearnedHybrid.from_dict(learned).network_weight(features))


def kfold_ids(ids: list[str], folds: int, seed: int = 0) -> list[list[str]]:
    """``ids`` shuffled (seeded) into ``folds`` disjoint held-out parts of near-equal size."""
    if folds < 2 or folds > len(ids):
        raise ModelError("folds", f"need 2 <= folds <= {len(ids)}, got {folds}")
    order = np.random.default_rng(seed).permutation(len(ids))
    return [sorted(ids[i] for i in part) for part in np.array_split(order, folds)]


def element_fractions(compositions: list[list[str]]) -> dict[str, float]:
    """Element -> fraction of the materials (each a list of element symbols) that contain it."""
    counts: dict[str, int] = {}
    for elements in compositions:
        for element in set(elements):
            counts[element] = counts.get(element, 0) + 1
    return {element: count / len(compositions) for element, count in sorted(counts.items())}


def reliability_features(network: np.ndarray, spread: np.ndarray, physics: np.ndarray,
                         imaginary_fraction: np.ndarray, elements: list[list[str]],
                         fractions: dict[str, float]) -> np.ndarray:
    """(n, len(RELIABILITY_FEATURES)) signals of which part to trust.

    Args:
        network, physics: (n, n_bins) max-normalised DOS.
        spread: (n, n_bins) standard deviation of the network's members.
        imaginary_fraction: (n,) share of the physics modes below -10 cm^-1.
        elements: each material's element symbols.
        fractions: :func:`element_fractions` of the network's training materials.

    Returns:
        mean spread, imaginary fraction, mean |network - physics|, and -log10 of the rarest element's
        training fraction (unknown elements count as 1e-4).
    """
    rarity = np.array([-np.log10(max(min(fractions.get(e, 0.0) for e in els), 1e-4)) for els in elements])
    return np.stack([spread.mean(axis=1), np.asarray(imaginary_fraction, dtype=float),
                     np.abs(network - physics).mean(axis=1), rarity], axis=1)


@dataclass
class OutOfFoldPredictions:
    """Network predictions of training materials, each by models that did not train on it.

    Attributes:
        ids: (n,) material ids.
        dos: (n, n_bins) mean prediction of the fold's models; ``spread``: their standard deviation.
        fold: (n,) index of the fold whose models made each row.
        fold_train_ids: per fold, the ids its models trained on.
    """

    ids: list[str]
    dos: np.ndarray
    spread: np.ndarray
    fold: np.ndarray
    fold_train_ids: list[set] = field(repr=False)

    def check(self) -> None:
        """Raises ModelError if any row's prediction came from a model that trained on that material."""
        for mp_id, k in zip(self.ids, self.fold):
            if mp_id in self.fold_train_ids[int(k)]:
                raise ModelError(mp_id, f"its network prediction comes from fold {int(k)}'s models, which trained "
                                        "on it: not an out-of-fold prediction")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class LearnedHybrid:
    """Per-bin network weight from reliability features (see the module docstring)."""

    bin_logit: np.ndarray  # (n_bins,)
    coefficients: np.ndarray  # (n_features,) on standardised features
    feature_mean: np.ndarray
    feature_std: np.ndarray
    features: tuple = RELIABILITY_FEATURES

    def network_weight(self, features: np.ndarray) -> np.ndarray:
        """(n, n_bins) weight of the network for (n, n_features) reliability features."""
        z = (np.asarray(features, dtype=float) - self.feature_mean) / self.feature_std
        return _sigmoid(self.bin_logit[None, :] + z @ self.coefficients[:, None])

    def combine(self, network: np.ndarray, physics: np.ndarray, features: np.ndarray) -> np.ndarray:
        """(n, n_bins) max-normalised ``w * network + (1 - w) * physics``."""
        return hybrid_rows(network, physics, self.network_weight(features))

    def to_dict(self) -> dict:
        return {"kind": "learned", "features": list(self.features), "bin_logit": self.bin_logit.tolist(),
                "coefficients": self.coefficients.tolist(), "feature_mean": self.feature_mean.tolist(),
                "feature_std": self.feature_std.tolist()}

    @classmethod
    def from_dict(cls, record: dict) -> "LearnedHybrid":
        if tuple(record.get("features", ())) != RELIABILITY_FEATURES:
            raise ModelError("hybrid", f"learned hybrid features {record.get('features')} are not this "
                                       f"version's {list(RELIABILITY_FEATURES)}")
        return cls(*(np.asarray(record[k], dtype=float) for k in ("bin_logit", "coefficients", "feature_mean",
                                                                    "feature_std")))


def fit_learned_hybrid(oof: OutOfFoldPredictions, physics: np.ndarray, target: np.ndarray, features: np.ndarray,
                       l2: float = 1e-3, steps: int = 300) -> LearnedHybrid:
    """Least-squares fit of a :class:`LearnedHybrid` on training materials.

    Args:
        oof: the network's out-of-fold predictions (checked: no row may come from a model that trained on it).
        physics, target: (n, n_bins) physics DOS and label, rows as ``oof.ids``.
        features: (n, n_features) :func:`reliability_features` of the same rows.
        l2: penalty on the coefficients and on the bin logits' distance from 0 (the plain average).
    """
    import torch

    oof.check()
    x = np.asarray(features, dtype=float)
    mean, std = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-8)
    z = torch.as_tensor((x - mean) / std, dtype=torch.float64)
    net = torch.as_tensor(oof.dos, dtype=torch.float64)
    phys = torch.as_tensor(physics, dtype=torch.float64)
    y = torch.as_tensor(target, dtype=torch.float64)
    bin_logit = torch.zeros(net.shape[1], dtype=torch.float64, requires_grad=True)
    coefficients = torch.zeros(z.shape[1], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([bin_logit, coefficients], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        w = torch.sigmoid(bin_logit[None, :] + z @ coefficients[:, None])
        total = w * net + (1 - w) * phys
        total = total / total.amax(dim=1, keepdim=True).clamp_min(1e-12)
        loss = (total - y).pow(2).mean() + l2 * (coefficients.pow(2).sum() + bin_logit.pow(2).mean())
        loss.backward()
        return loss

    optimizer.step(closure)
    return LearnedHybrid(bin_logit.detach().numpy().copy(), coefficients.detach().numpy().copy(), mean, std)
