"""Feature-cache keys carry the potential (sevenn version, checkpoint hash) and the structure's hash."""

import numpy as np
import pytest
from pymatgen.core import Structure

from equispec.data.datasets import structure_sha256
from equispec.nn.pretrained import feature_cache_key, pretrained_features
from equispec.nn.pretrained import check_pretrained_record, get_featurizer
from equispec.errors import ModelError
from tests.conftest import EXAMPLES


@pytest.fixture
def silicon():
    return Structure.from_file(str(EXAMPLES / "Si.cif"))


def test_changed_structure_under_the_same_id_is_featurized_again(tmp_path, silicon):
    cache = tmp_path / "features.npz"
    first = pretrained_features([silicon], "sevennet-0", ["mp-149"], cache, progress=False)[0]
    strained = silicon.copy()
    strained.apply_strain(0.03)
    second = pretrained_features([strained], "sevennet-0", ["mp-149"], cache, progress=False)[0]
    assert np.abs(second - first).max() > 1e-3  # an id-only key would have handed back `first`
    np.testing.assert_array_equal(second, pretrained_features([strained], "sevennet-0", progress=False)[0])
    with np.load(cache, allow_pickle=False) as archive:
        names = sorted(archive.files)
    record = get_featurizer("sevennet-0").record
    assert len(names) == 2 and all(n.startswith(f"sevennet-0/{record['sevenn_version']}/"
                                                f"{record['weights_sha256'][:16]}/") for n in names)
    assert all(n.endswith("/mp-149") for n in names)


def test_unchanged_structure_is_read_from_the_cache(tmp_path, silicon, monkeypatch):
    cache = tmp_path / "features.npz"
    first = pretrained_features([silicon], "sevennet-0", ["mp-149"], cache, progress=False)[0]
    featurizer = get_featurizer("sevennet-0")
    monkeypatch.setattr(featurizer, "batch", lambda *args: pytest.fail("featurized a cached structure"))
    again = pretrained_features([silicon.copy()], "sevennet-0", ["mp-149"], cache, progress=False)[0]
    np.testing.assert_array_equal(first, again)


def test_cache_key_changes_with_the_sevenn_version_and_weights(silicon):
    record = get_featurizer("sevennet-0").record
    key = feature_cache_key(record, silicon, "mp-149")
    assert feature_cache_key(dict(record, sevenn_version="0.0.1"), silicon, "mp-149") != key
    assert feature_cache_key(dict(record, weights_sha256="0" * 64), silicon, "mp-149") != key
    assert feature_cache_key(dict(record), silicon.copy(), "mp-149") == key


def test_structure_hash_sees_species_lattice_and_positions(silicon):
    reference = structure_sha256(silicon)
    assert structure_sha256(silicon.copy()) == reference
    moved = silicon.copy()
    moved.translate_sites([1], [1e-4, 0, 0])
    replaced = silicon.copy()
    replaced.replace(0, "Ge")
    strained = silicon.copy()
    strained.apply_strain(1e-4)
    assert len({reference, structure_sha256(moved), structure_sha256(replaced), structure_sha256(strained)}) == 4


def test_model_trained_on_other_weights_is_refused():
    installed = get_featurizer("sevennet-0").record
    info = {"hyperparameters": {"pretrained": "sevennet-0"}, "pretrained_backbone": dict(installed)}
    check_pretrained_record(info, "model")  # same weights: fine
    check_pretrained_record({"hyperparameters": {"pretrained": "sevennet-0"}}, "model")  # older model.json
    info["pretrained_backbone"]["weights_sha256"] = "f" * 64
    with pytest.raises(ModelError, match="trained on sevennet-0 features from checkpoint sha256 ffffffffffff"):
        check_pretrained_record(info, "model")


def test_shipped_models_record_the_installed_backbone():
    import json

    from equispec.api import resolve_model_dir

    installed = get_featurizer("sevennet-0").record
    for name in ("phdos", "xas-cu-k"):
        info = json.loads((resolve_model_dir(name) / "model.json").read_text())
        assert info["pretrained_backbone"]["weights_sha256"] == installed["weights_sha256"]
        assert info["pretrained_backbone"]["checkpoint"] == "7net-0"
