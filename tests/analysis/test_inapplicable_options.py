"""An option the measured kind does not read is refused with one line, never dropped without a word; the
options a comparison does read (and the prediction's name) reach it."""

from __future__ import annotations

import pytest

from equispec.analysis.compare import compare_spectra
from equispec.analysis.readers import read_measured_dos
from equispec.errors import InputError
from tests.conftest import EXAMPLES, SHARED_DATA

V_DOS = SHARED_DATA / "measured" / "phdos" / "multiphonon" / "V_ARCS_Ei120meV_300K_dos.csv"


@pytest.fixture(scope="module")
def vanadium():
    from equispec.workflows import load_model

    return load_model("phdos").predict(EXAMPLES / "V.cif")[0], read_measured_dos(V_DOS)


def test_the_name_and_the_dos_options_reach_the_comparison(vanadium):
    prediction, measured = vanadium
    comparison = compare_spectra(prediction, measured, name="vanadium", resolution_mev=2.0, window_ev=None,
                                 core_hole_ev=0.0)
    assert comparison.name == "vanadium" and comparison.details["resolution_mev"] == 2.0


@pytest.mark.parametrize("option, value, message", [
    ("window_ev", 30.0, "--window-ev: is for XAS comparisons"),
    ("core_hole_ev", None, "--core-hole-ev: is for XAS comparisons"),
    ("temperature_k", 10.0, "--temperature-k: is for a measured S(Q,E) map (.npz)"),
])
def test_an_option_of_another_kind_is_refused(vanadium, option, value, message):
    prediction, measured = vanadium
    with pytest.raises(InputError) as caught:
        compare_spectra(prediction, measured, **{option: value})
    assert str(caught.value) == message


def test_the_workflow_refuses_before_it_predicts(monkeypatch):
    import equispec.workflows.comparing as comparing

    class Predictor:
        task, mode = "phdos", "physics"

        def predict(self, *args):
            pytest.fail("predicted before refusing the option")

    with pytest.raises(InputError, match=r"^--window-ev: is for XAS comparisons$"):
        comparing.compare(EXAMPLES / "V.cif", V_DOS, Predictor(), window_ev=30.0)
