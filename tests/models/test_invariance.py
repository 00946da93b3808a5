"""The phonon DOS model keeps the invariances of :class:`tests.models.invariance_contract.InvarianceContract`
(the per-atom contributions following their atoms), in plain, pretrained and fine-tuned variants."""

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from equispec import keys
from equispec.data.datasets import build_graphs
from equispec.nn.pretrained import pretrained_features
from equispec.models import build_model
from tests.conftest import TOLERANCE
from tests.models.invariance_contract import InvarianceContract

CUTOFF = 4.0


VARIANTS = {
    "plain": {},
    # SevenNet runs in float32, so this variant is held to the float32 tolerance
    "pretrained": {"pretrained": "sevennet-0"},
    # the last two SevenNet blocks trainable, their weights moved away from the pretrained ones below
    "fine-tuned": {"pretrained": "sevennet-0", "pretrained_trainable": {"last_k": 2}},
}


@pytest.fixture(params=list(VARIANTS))
def model(float64, request):
    torch.manual_seed(0)
    hp = dict(cutoff_ang=CUTOFF, num_layers=2, mul=8, lmax=2, embed_dim=16, num_radial=8, radial_hidden=16,
              readout_hidden=16, n_out=51, avg_num_neighbors=10.0, **VARIANTS[request.param])
    model = build_model("phdos_gate_v1", hp).eval()
    if model.backbone.pretrained_blocks is not None:  # invariance must not rest on the pretrained weights
        with torch.no_grad():
            for parameter in model.backbone.pretrained_blocks.parameters():
                parameter.add_(0.1 * parameter.abs().mean() * torch.randn_like(parameter))
    model.tolerance = TOLERANCE[torch.float32 if "pretrained" in VARIANTS[request.param] else torch.float64]
    return model


@pytest.fixture
def crystal():
    """A low-symmetry ternary so that no invariance holds by accident."""
    rng = np.random.default_rng(1)
    lattice = Lattice.from_parameters(4.1, 4.6, 5.3, 81, 95, 103)
    coords = rng.uniform(0, 1, size=(5, 3))
    return Structure(lattice, ["Sr", "Ti", "O", "O", "O"], coords)


def predict(model, structure):
    blocks = model.backbone.pretrained_blocks
    pretrained = model.backbone.embedding.pretrained_dim and pretrained_features(
        [structure], "sevennet-0", progress=False, first_trainable_block=blocks.first_block if blocks else None)
    graph = build_graphs([structure], CUTOFF, ["crystal"], progress=False, pretrained=pretrained or None)[0]
    with torch.no_grad():
        out = model(graph)
    return out[keys.GRAPH_OUTPUT][0], out[keys.NODE_OUTPUT]


class TestPhononDosInvariance(InvarianceContract):
    def outputs(self, model, structure):
        return predict(model, structure)

    def test_output_is_a_max_normalised_nonnegative_spectrum(self, model, crystal):
        dos, per_atom = predict(model, crystal)
        assert dos.shape == (51,)
        assert (dos >= 0).all() and dos.max() == pytest.approx(1.0)
        assert dos.std() > 1e-3  # not a constant spectrum that would pass every invariance test
        torch.testing.assert_close(per_atom.sum(0), dos)


def test_batched_equals_one_by_one(model, crystal):
    from torch_geometric.data import Batch

    other = Structure(Lattice.cubic(4.2), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])  # centrosymmetric
    blocks = model.backbone.pretrained_blocks
    pretrained = model.backbone.embedding.pretrained_dim and pretrained_features(
        [crystal, other], "sevennet-0", progress=False, first_trainable_block=blocks.first_block if blocks else None)
    batch = Batch.from_data_list(build_graphs([crystal, other], CUTOFF, ["a", "b"], progress=False,
                                              pretrained=pretrained or None))
    with torch.no_grad():
        both = model(batch)[keys.GRAPH_OUTPUT]
    assert (both[0] - predict(model, crystal)[0]).abs().max() < model.tolerance
    assert (both[1] - predict(model, other)[0]).abs().max() < model.tolerance
