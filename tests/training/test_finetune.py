"""Fine-tuning the last SevenNet blocks (``model.pretrained_trainable``) in a short real run on real data: the
loss goes down, the trained copies move, and everything frozen (the potential the featurizer runs, the blocks
below, the cached features) stays bit-identical."""

import csv

import pytest
import torch

from equispec.api import load_model
from equispec import keys
from equispec.data.datasets import read_phdos_csv
from equispec.models.serialization import load_model_dir
from equispec.nn.pretrained import load_sevennet
from equispec.training import load_config, train
from tests.conftest import PHDOS, ROOT


def _config(tmp_path, phdos_csv, trainable: str, name: str):
    config = load_config(ROOT / "configs" / "phdos.yaml", [
        "data.limit_train=32", "data.limit_valid=8", "optim.max_epochs=4", "optim.batch_size=8",
        "optim.warmup_epochs=0", "optim.lr=0.003", "optim.pretrained_lr=0.001", "optim.ema_decay=null",
        "model.embed_dim=32", "model.readout_hidden=32", f"model.pretrained_trainable={trainable}",
        "trainer.progress_bar=false", "trainer.accelerator=cpu",
    ])
    config.data.csv = str(phdos_csv)
    config.data.train_ids = str(PHDOS / "splits" / "train_mp_ids.txt")
    config.data.valid_ids = str(PHDOS / "splits" / "valid_mp_ids.txt")
    config.data.feature_cache = str(tmp_path / "features.npz")
    config.output_dir = str(tmp_path / name)
    return config


def _losses(run):
    with open(run / "logs" / "metrics.csv") as handle:
        return [float(r["train/loss"]) for r in csv.DictReader(handle) if r.get("train/loss")]


def test_fine_tuning_last_block_learns_and_leaves_the_frozen_part_alone(tmp_path, phdos_csv, one_thread):
    potential = load_sevennet("7net-0")
    before = {k: v.clone() for k, v in potential.model.state_dict().items()}

    directory = train(_config(tmp_path, phdos_csv, "{last_k: 1}", "last1"))
    losses = _losses(tmp_path / "last1")
    assert len(losses) == 4 and losses[-1] < 0.8 * losses[0]

    # the featurizer's potential (every block, the trained one's original included) is untouched
    after = potential.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    # the exported model holds its own trained copy of block 4, moved away from the pretrained weights
    model, info = load_model_dir(directory)
    assert info["hyperparameters"]["pretrained_trainable"] == {"last_k": 1}
    trained = model.backbone.pretrained_blocks.layers.state_dict()
    assert set(n.split("_")[0] for n in model.backbone.pretrained_blocks.layers.keys()) == {"4"}
    moved = [k for k, v in trained.items() if not torch.equal(v, before[k])]
    assert any("4_convolution" in k for k in moved)
    # blocks 0-3 are not in the model: their output reaches it only through the cache, as computed
    assert not any(k.split(".")[0][0] in "0123" for k in trained)

    # it predicts from structures alone (the predictor computes the block inputs itself), as scored in training
    predictor = load_model(directory)
    table = read_phdos_csv(phdos_csv)
    valid = table.subset((PHDOS / "splits" / "valid_mp_ids.txt").read_text().split()[:8])
    graphs = predictor.graphs(valid.structures, valid.ids)
    assert keys.SEVENNET_NODE_INPUT in graphs[0]
    dos, _ = predictor.predict_graphs(graphs)
    mse = float(((torch.as_tensor(dos) - torch.as_tensor(valid.dos)) ** 2).mean())
    assert mse == pytest.approx(info["valid_metrics"]["mse"], rel=1e-5)


def test_frozen_model_has_no_trainable_blocks():
    from equispec.models import build_model

    model = build_model("phdos_gate_v1", {"pretrained": "sevennet-0", "num_layers": 0, "embed_dim": 16})
    assert model.backbone.pretrained_blocks is None
    assert not any("pretrained_blocks" in k for k in model.state_dict())


def test_block_inputs_survive_the_graph_store(tmp_path, phdos_csv):
    """data.graph_cache keeps SevenNet's own edges edge-major, like the model's, so batches read back equal."""
    from torch_geometric.data import Batch

    from equispec.data.datasets import build_graphs
    from equispec.nn.pretrained import pretrained_features
    from equispec.data.graph_store import GraphStore

    table = read_phdos_csv(phdos_csv)
    structures, ids = table.structures[:3], table.ids[:3]
    fields = pretrained_features(structures, "sevennet-0", ids, progress=False, first_trainable_block=4)
    graphs = build_graphs(structures, 4.5, ids, progress=False, pretrained=fields)
    store = GraphStore.write(graphs, ids, tmp_path / "store", "key")
    original, stored = Batch.from_data_list(graphs), Batch.from_data_list([store[i] for i in range(3)])
    for key in (keys.SEVENNET_EDGE_INDEX, keys.SEVENNET_EDGE_VECTORS, keys.SEVENNET_NODE_INPUT,
                keys.SEVENNET_INVERSION_INDEX, keys.SEVENNET_CENTROSYMMETRIC):
        assert torch.equal(original[key], stored[key]), key
