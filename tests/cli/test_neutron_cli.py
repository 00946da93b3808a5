"""``predict --ins`` and ``compare`` against measured neutron data, as a neutron user meets them."""

import json

import numpy as np
import pytest

from equispec.cli.main import main
from equispec.physics.neutron import kinematic_mask
from tests.conftest import EXAMPLES, SHARED_DATA

MULTIPHONON = SHARED_DATA / "measured" / "phdos" / "multiphonon"
AL_SQE = MULTIPHONON / "Al_Ei80meV_sqe.npz"
V_DOS = MULTIPHONON / "V_ARCS_Ei120meV_300K_dos.csv"


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("equispec: error: ") and "Traceback" not in err[0]
    return err[0]


@pytest.mark.slow
def test_predict_physics_ins_writes_full_range_dos_and_masked_map(tmp_path):
    out, plot = tmp_path / "al.npz", tmp_path / "al.png"
    assert main(["predict", str(EXAMPLES / "Al.cif"), "--mode", "physics", "--ins", "--ei", "80", "--instrument",
                 "ARCS", "-o", str(out), "--plot", str(plot)]) == 0
    with np.load(out, allow_pickle=False) as arrays:
        energy, dos, weighted = arrays["energy_mev"], arrays["dos"], arrays["neutron_dos"]
        q, e, sqe = arrays["sqe_q_inv_ang"], arrays["sqe_energy_mev"], arrays["sqe"]
        physics = json.loads(str(arrays["physics"]))
    assert physics["potential"] == "7net-l3i5" and physics["supercell"] == [4, 4, 4]
    assert np.diff(energy).max() <= 0.25 + 1e-9 and energy[-1] > energy[dos > 1e-3 * dos.max()].max()
    assert np.trapezoid(dos, energy) == pytest.approx(3.0, abs=0.1)  # one atom: 3 modes, no smoothing
    assert np.trapezoid(weighted, energy) == pytest.approx(1.0, rel=1e-3)
    assert sqe.shape == (len(q), len(e)) and e.min() < 0 < e.max() < 80
    inside = kinematic_mask(q, e, 80.0)
    assert np.isnan(sqe[~inside]).all() and np.isfinite(sqe[inside]).all() and np.nanmax(sqe) > 0
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_compare_measured_sqe_map(tmp_path, capsys):
    plot = tmp_path / "map.png"
    assert main(["compare", str(EXAMPLES / "Al.cif"), str(AL_SQE), "--model", "phdos", "--mode", "physics",
                 "--ei", "80", "--instrument", "ARCS", "--json", "--plot", str(plot)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert {"pearson", "cosine", "chi2_reduced", "scale", "background", "e_min", "e_max"} <= set(record)
    assert record["kind"] == "sqe" and record["scale"] > 0
    assert record["e_min"] < 0 < record["e_max"] <= 80  # energy gain and loss, inside the measured range
    # measured 0.756 (the README's neutron table); the forces vary by ~1e-7 eV/Å between runs and the sphere
    # points come from a fixed seed, so only rounding moves it
    assert record["pearson"] == pytest.approx(0.756, abs=0.01)
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_compare_measured_dos_over_the_whole_measured_range(capsys):
    assert main(["compare", str(EXAMPLES / "V.cif"), str(V_DOS), "--model", "phdos", "--mode", "physics",
                 "--resolution-mev", "3", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    measured_energies = np.loadtxt(V_DOS, delimiter=",", skiprows=1)[:, 0]
    assert record["e_min"] == measured_energies.min() and record["e_max"] == measured_energies.max()
    assert record["details"]["full_range"] is True


GOOD_MAP = {"Q": np.arange(1.0, 4.0), "E": np.arange(-2.0, 30.0), "I": np.ones((3, 32)), "I_err2": np.ones((3, 32))}


@pytest.mark.parametrize("arrays, problem", [
    ({"Q": np.arange(3.0), "E": np.arange(4.0), "S": np.ones((3, 4)), "I_err2": np.ones((3, 4))}, "no I/"),
    ({"Q": np.arange(3.0), "E": np.arange(4.0), "I": np.full((3, 4), np.nan), "I_err2": np.ones((3, 4))}, "all NaN"),
    ({"Q": np.arange(3.0), "E": np.arange(4.0), "I": np.ones((3, 5)), "I_err2": np.ones((3, 5))}, "shape"),
    # settings entries of the wrong type (a reduction may write them; they are checked like the arrays)
    ({**GOOD_MAP, "ei_mev": np.array("eighty")}, "ei_mev must be a number"),
    ({**GOOD_MAP, "temperature_k": np.array([300.0, 10.0])}, "temperature_k must be a single value"),
    ({**GOOD_MAP, "temperature_k": np.array(-5.0)}, "temperature_k must be a number"),
    ({**GOOD_MAP, "instrument": np.array(3.0)}, "instrument must be an instrument name"),
])
def test_bad_sqe_file_is_one_line_and_exit_2(tmp_path, capsys, arrays, problem):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    plot = tmp_path / "never.png"
    assert main(["compare", str(EXAMPLES / "Al.cif"), str(path), "--model", "phdos", "--mode", "physics",
                 "--plot", str(plot)]) == 2
    line = one_error_line(capsys)
    assert str(path) in line and problem in line
    assert not plot.exists()


def test_neutron_options_are_checked_before_any_work(tmp_path, capsys):
    assert main(["predict", str(EXAMPLES / "Al.cif"), "--ei", "80"]) == 2
    assert "--ins" in one_error_line(capsys)
    assert main(["compare", str(EXAMPLES / "Al.cif"), str(AL_SQE), "--model", "phdos"]) == 2
    assert "--mode physics" in one_error_line(capsys)
    assert main(["predict", str(EXAMPLES / "Al.cif"), "--mode", "physics", "--ins", "-o", str(tmp_path / "x.csv")]) == 2
    assert ".npz" in one_error_line(capsys)
    assert main(["predict", str(EXAMPLES / "Al.cif"), "--mode", "physics", "--ins", "--instrument", "ARCS"]) == 2
    assert "--ei" in one_error_line(capsys)
    assert main(["predict", str(EXAMPLES / "Al.cif"), "--plot", str(tmp_path / "x.unknown")]) == 2
    assert "figure must end in" in one_error_line(capsys)
    assert not list(tmp_path.iterdir())


def test_fast_mode_notes_modes_above_its_grid(tmp_path, capsys):
    """Diamond's optical modes reach ~165 meV: the fast model's DOS is still high at its 124 meV edge."""
    out = tmp_path / "c.json"
    assert main(["predict", str(EXAMPLES / "C_diamond.cif"), "--ins", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "modes likely above the fast model's grid" in err and "--mode physics" in err
    record = json.loads(out.read_text())[0]
    assert record["ins"]["energy_mev"][-1] == pytest.approx(1000 / 8.0655439, rel=1e-4)
    assert np.trapezoid(record["ins"]["neutron_dos"], record["ins"]["energy_mev"]) == pytest.approx(1.0, rel=1e-3)
    assert main(["predict", str(EXAMPLES / "Si.cif")]) == 0  # Si ends near 65 meV: no note
    assert "note:" not in capsys.readouterr().err


def sqe_with_settings(tmp_path, **settings):
    """The measured Al map with settings entries added, as a beamline's reduction could write them."""
    with np.load(AL_SQE, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    path = tmp_path / "al_with_settings.npz"
    np.savez(path, **arrays, **{key: np.array(value) for key, value in settings.items()})
    return path


def test_bare_sqe_comparison_refuses_with_one_line_naming_the_resolution_options(tmp_path, capsys):
    plot = tmp_path / "never.png"
    assert main(["compare", str(EXAMPLES / "Al.cif"), str(AL_SQE), "--model", "phdos", "--mode", "physics",
                 "--plot", str(plot)]) == 2
    line = one_error_line(capsys)
    assert "--instrument" in line and "--ei" in line and "--resolution-mev" in line
    assert not plot.exists()


@pytest.mark.slow
def test_sqe_settings_come_from_the_file_and_every_output_says_so(tmp_path, capsys):
    path = sqe_with_settings(tmp_path, ei_mev=80.0, temperature_k=300.0, instrument="ARCS")
    plot = tmp_path / "map.png"
    assert main(["compare", str(EXAMPLES / "Al.cif"), str(path), "--model", "phdos", "--mode", "physics",
                 "--potential", "7net-0", "--json", "--plot", str(plot)]) == 0
    captured = capsys.readouterr()
    record = json.loads(captured.out)
    details = record["details"]
    assert details["settings_source"] == {"resolution": "file", "ei_mev": "file", "temperature_k": "file"}
    assert details["ei_mev"] == 80.0 and details["temperature_k"] == 300.0 and "ARCS" in details["resolution_fwhm_mev"]
    assert details["phonon_order"] >= 2 and len(details["term_shares"]) == details["phonon_order"]
    assert sum(details["term_shares"]) == pytest.approx(1.0, abs=1e-5)  # rounded to 6 digits each
    assert details["term_shares"][0] == max(details["term_shares"])  # one-phonon still leads at 80 meV
    assert "(from file)" in captured.err and "ARCS" in captured.err
    cut = record["cut"]
    assert len(cut["energy_mev"]) == len(cut["measured"]) == len(cut["predicted"]) == len(cut["one_phonon"]) > 20
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_multiphonon_terms_raise_the_agreement_with_the_measured_al_map(capsys):
    """The measured map holds two- and more-phonon scattering above the band and at high |Q|: leaving it
    out must score worse (measured: Pearson 0.67 one-phonon, 0.76 with the terms, SevenNet-0)."""
    scores = {}
    for order in ("1", "auto"):
        assert main(["compare", str(EXAMPLES / "Al.cif"), str(AL_SQE), "--model", "phdos", "--mode", "physics",
                     "--potential", "7net-0", "--instrument", "ARCS", "--ei", "80", "--phonon-order", order,
                     "--json"]) == 0
        scores[order] = json.loads(capsys.readouterr().out)
    assert scores["1"]["details"]["phonon_order"] == 1 and scores["1"]["details"]["term_shares"] == [1.0]
    assert scores["auto"]["pearson"] > scores["1"]["pearson"] + 0.05
    assert scores["auto"]["chi2_reduced"] < scores["1"]["chi2_reduced"]


@pytest.mark.parametrize("potential, problem", [
    ("7net-9", "unknown potential (known: 7net-0, 7net-l3i5, 7net-mf-0:r2scan"),
    ("7net-mf-0:hse", "unknown modality 'hse' (known: 7net-mf-0:pbe, 7net-mf-0:r2scan)"),
    ("7net-mf-0", "needs a modality"),
])
def test_unknown_potential_or_modality_is_one_line_and_exit_2(tmp_path, capsys, potential, problem):
    out = tmp_path / "never.json"
    assert main(["predict", str(EXAMPLES / "Al.cif"), "--mode", "physics", "--potential", potential,
                 "-o", str(out)]) == 2
    assert problem in one_error_line(capsys)
    assert not list(tmp_path.iterdir())


def test_potential_whose_extra_is_missing_fails_before_any_work(tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "chgnet" else real(name, *a))
    out = tmp_path / "never.json"
    assert main(["predict", str(EXAMPLES / "Al.cif"), "--mode", "physics", "--potential", "chgnet-r2scan",
                 "-o", str(out)]) == 2
    line = one_error_line(capsys)
    assert "chgnet-r2scan" in line and "pip install 'equispec[chgnet]'" in line
    assert not list(tmp_path.iterdir())


def test_dos_comparison_without_resolution_says_so(capsys):
    assert main(["compare", str(EXAMPLES / "V.cif"), str(V_DOS), "--model", "phdos", "--json"]) == 0
    captured = capsys.readouterr()
    assert "no instrument resolution applied" in captured.err
    assert "no instrument resolution applied" in json.loads(captured.out)["details"]["resolution_note"]


def test_map_only_options_on_a_dos_comparison_are_refused(capsys):
    assert main(["compare", str(EXAMPLES / "V.cif"), str(V_DOS), "--model", "phdos", "--phonon-order", "2"]) == 2
    assert "--phonon-order" in one_error_line(capsys)
    assert main(["compare", str(EXAMPLES / "V.cif"), str(V_DOS), "--model", "phdos", "--phonon-order", "zero"]) == 2
    assert "--phonon-order" in one_error_line(capsys)


@pytest.mark.slow
def test_predicted_map_records_its_phonon_terms_and_q_integrated_cut(tmp_path, capsys):
    out = tmp_path / "al.json"
    assert main(["predict", str(EXAMPLES / "Al.cif"), "--mode", "physics", "--potential", "7net-0", "--ins", "--ei",
                 "80", "--instrument", "ARCS", "-o", str(out)]) == 0
    assert "-phonon (term shares" in capsys.readouterr().err
    sqe = json.loads(out.read_text())[0]["ins"]["sqe"]
    assert sqe["phonon_order"] >= 2 and len(sqe["term_shares"]) == sqe["phonon_order"]
    assert sum(sqe["term_shares"]) == pytest.approx(1.0, abs=1e-5)
    intensity = np.array([[np.nan if v is None else v for v in row] for row in sqe["intensity"]])
    q = np.array(sqe["q_inv_ang"])
    assert sqe["q_integrated"] == pytest.approx(np.nansum(intensity, axis=0) * (q[1] - q[0]))
