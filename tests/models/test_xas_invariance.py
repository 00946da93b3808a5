"""A site spectrum belongs to one absorbing atom: the XAS model keeps the invariances of
:class:`tests.models.invariance_contract.InvarianceContract`, each spectrum following its absorber."""

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from equispec import keys
from equispec.nn.pretrained import pretrained_features
from equispec.data.absorbers import absorbing_sites
from equispec.data.xas_graphs import site_graphs
from equispec.models import build_model
from tests.conftest import TOLERANCE
from tests.models.invariance_contract import InvarianceContract

CUTOFF = 5.0

VARIANTS = {
    "gated": {"num_layers": 2},
    "readout-only": {"num_layers": 0},
    "pretrained": {"num_layers": 1, "pretrained": "sevennet-0"},  # SevenNet runs in float32
}


@pytest.fixture(params=list(VARIANTS))
def model(float64, request):
    torch.manual_seed(0)
    hp = dict(cutoff_ang=CUTOFF, env_cutoff_ang=4.5, mul=8, lmax=2, embed_dim=16, num_radial=8, radial_hidden=16,
              readout_hidden=16, n_out=141, avg_num_neighbors=20.0, **VARIANTS[request.param])
    model = build_model("xas_site_v1", hp).eval()
    model.tolerance = TOLERANCE[torch.float32 if "pretrained" in VARIANTS[request.param] else torch.float64]
    return model


@pytest.fixture
def crystal():
    """A low-symmetry Cu oxide with two Cu atoms in different environments."""
    rng = np.random.default_rng(3)
    lattice = Lattice.from_parameters(4.3, 4.9, 5.6, 83, 97, 104)
    return Structure(lattice, ["Cu", "Cu", "O", "O", "La"], rng.uniform(0, 1, size=(5, 3)))


def site_spectra(model, structure, sites=(0, 1), weights=None):
    pretrained = model.backbone.embedding.pretrained_dim and pretrained_features([structure], "sevennet-0",
                                                                                 progress=False)
    graph = site_graphs([structure], ["crystal"], [list(sites)], "K", CUTOFF, weights=weights,
                        pretrained=pretrained or None, progress=False)[0]
    with torch.no_grad():
        out = model(graph)
    return out[keys.SITE_OUTPUT], out[keys.GRAPH_OUTPUT][0]


class TestSiteSpectrumInvariance(InvarianceContract):
    """Each absorbing Cu's spectrum follows its atom; the structure's spectrum is their average."""

    RELATIVE = True

    def tracked(self, structure):
        return [i for i, site in enumerate(structure) if site.specie.symbol == "Cu"]

    def outputs(self, model, structure):
        spectra, average = site_spectra(model, structure, self.tracked(structure))
        return average, spectra

    def test_one_distinct_spectrum_per_absorber(self, model, crystal):
        spectra, _ = site_spectra(model, crystal)
        assert spectra.shape == (2, 141)
        assert (spectra[0] - spectra[1]).abs().max() > 1e-6  # different sites, different spectra
        assert spectra.std(dim=1).min() > 1e-6


def test_weighted_graph_output_is_the_weighted_site_average(model, crystal):
    spectra, average = site_spectra(model, crystal, weights=[[3.0, 1.0]])
    torch.testing.assert_close(average, (3 * spectra[0] + spectra[1]) / 4)


def test_multiplicity_average_equals_average_over_all_absorbers(model):
    """Predicting each orbit once and weighting by its size gives the plain mean over every Cu atom."""
    # Cu on Wyckoff 1a (one atom) and 2e (two atoms): two orbits of different size
    structure = Structure.from_spacegroup("P4/mmm", Lattice.tetragonal(3.9, 4.4), ["Cu", "Cu", "O", "Ba"],
                                          [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0.5, 0.5]])
    cu = [i for i, site in enumerate(structure) if site.specie.symbol == "Cu"]
    representatives, multiplicities = absorbing_sites(structure, "Cu")
    assert sorted(multiplicities) == [1, 2] and sum(multiplicities) == len(cu) == 3
    every, _ = site_spectra(model, structure, cu)
    _, weighted = site_spectra(model, structure, representatives, weights=[multiplicities])
    assert (weighted - every.mean(0)).abs().max() < model.tolerance * every.abs().max()
