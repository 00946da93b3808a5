import pytest
import torch
from e3nn import o3

from equispec.errors import ConfigError
from equispec.models import build_model
from equispec.nn import Convolution, GatedInteraction


def test_layers_state_their_irreps():
    layer = GatedInteraction("16x0e", "8x0e + 8x1o", o3.Irreps.spherical_harmonics(1), 8, 16, 10.0)
    assert layer.irreps_in == o3.Irreps("16x0e")
    assert layer.irreps_out == o3.Irreps("8x0e + 8x1o")
    assert "16x0e -> 8x0e+8x1o" in repr(layer)


def test_convolution_is_equivariant(float64):
    """Vector outputs rotate with the input (not only invariance of the final scalars)."""
    torch.manual_seed(0)
    irreps_in, irreps_out = o3.Irreps("4x0e + 4x1o"), o3.Irreps("3x0e + 3x1o + 2x2e")
    sh_irreps = o3.Irreps.spherical_harmonics(2)
    conv = Convolution(irreps_in, sh_irreps, irreps_out, num_radial=4, radial_hidden=8, avg_num_neighbors=3.0)
    x = irreps_in.randn(5, -1)
    vec = torch.randn(12, 3)
    edge_index = torch.randint(0, 5, (2, 12))
    radial = torch.rand(12, 4)
    rotation = -o3.rand_matrix()
    sh = o3.spherical_harmonics(sh_irreps, vec, normalize=True, normalization="component")
    sh_rot = o3.spherical_harmonics(sh_irreps, vec @ rotation.T, normalize=True, normalization="component")
    out = conv(x, edge_index, sh, radial)
    out_rot = conv(x @ irreps_in.D_from_matrix(rotation).T, edge_index, sh_rot, radial)
    torch.testing.assert_close(out_rot, out @ irreps_out.D_from_matrix(rotation).T, atol=1e-9, rtol=1e-9)


def test_convolution_rejects_unreachable_irreps():
    with pytest.raises(ValueError, match="no path"):
        Convolution("4x0e", "1x0e", "4x1o", 4, 8, 3.0)


def test_unknown_architecture_and_hyperparameter():
    with pytest.raises(ConfigError, match="unknown architecture 'nope'"):
        build_model("nope", {})
    with pytest.raises(ConfigError, match="model.layers: unknown key"):
        build_model("phdos_gate_v1", {"layers": 3})
