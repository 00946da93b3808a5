"""Readers of measured spectra, checked against the real files and their index in ../shared/data/measured."""

import csv

import numpy as np
import pytest

from equispec.analysis.readers import read_measured_dos, read_measured_xas, read_xas_text, read_xdi
from equispec.errors import InputError
from equispec.io.units import CM1_PER_MEV, MEV_PER_THZ
from tests.conftest import SHARED_DATA

MEASURED_XAS = SHARED_DATA / "measured" / "xas"
MEASURED_DOS = SHARED_DATA / "measured" / "phdos" / "multiphonon"


@pytest.fixture(scope="module")
def xas_index():
    path = MEASURED_XAS / "index.csv"
    if not path.is_file():
        pytest.fail(f"shared data missing: {path} (set EQUISPEC_SHARED_DATA)")
    with open(path) as handle:
        return {row["file"]: row for row in csv.DictReader(handle)}


def _matches_index(spectrum, row):
    assert len(spectrum.energy_ev) == int(row["n_points"])
    assert spectrum.energy_ev[0] == pytest.approx(float(row["e_min"]), abs=0.01)
    assert spectrum.energy_ev[-1] == pytest.approx(float(row["e_max"]), abs=0.01)
    assert np.all(np.diff(spectrum.energy_ev) > 0) and np.isfinite(spectrum.mu).all()


@pytest.mark.parametrize("file, column", [
    ("xaslib/Zn/ZnO.xdi", "ln(i0/itrans)"),             # raw transmission
    ("xaslib/S/gypsum_rt_06.xdi", "ifluor/i0"),         # raw fluorescence
    ("xaslib/Sr/SrO_rt_02.xdi", "mutrans"),             # mu columns (mutrans mufluor murefer i0)
    ("xaslib/Cr/cr2o3_rt_001.xdi", None),
])
def test_xdi_files_read_like_the_index(xas_index, file, column):
    spectrum = read_xdi(MEASURED_XAS / file)
    row = xas_index[file]
    _matches_index(spectrum, row)
    assert spectrum.element == row["element"] and spectrum.edge == row["edge"]
    if column:
        assert spectrum.source_column == column
    assert "Element.symbol" in spectrum.metadata


def test_every_indexed_measured_xas_file_reads(xas_index):
    for file, row in xas_index.items():
        spectrum = read_measured_xas(MEASURED_XAS / file)
        _matches_index(spectrum, row)
        if spectrum.element:
            assert spectrum.element == row["element"], file


@pytest.mark.parametrize("file, element", [
    ("larch_athena_extracted/CuHERFD_standards__CuHERFD_Cu2S_001.txt", "Cu"),  # '# material: ... element: Cu'
    ("larch_examples/cu_50k.xmu", "Cu"),                                      # Athena '#%atom: Cu'
    ("larch_examples/ZnO_SSHADE.data.txt", None),                             # free-text header
    ("lightshow/anatase_TiO2_Ti_K_exp.txt", None),                            # bare two columns
])
def test_two_column_text(xas_index, file, element):
    spectrum = read_xas_text(MEASURED_XAS / file)
    _matches_index(spectrum, xas_index[file])
    assert spectrum.element == element


def test_measured_dos_in_mev_and_thz():
    dos = read_measured_dos(MEASURED_DOS / "V_ARCS_Ei120meV_300K_dos.csv")
    assert dos.unit == "meV" and len(dos.energy_mev) == 80 and dos.energy_mev[-1] == 79.0
    assert np.trapezoid(dos.dos, dos.energy_mev) == pytest.approx(1.0, abs=1e-3)  # "normalised to 1"
    assert dos.error is not None and dos.error.shape == dos.dos.shape
    ref = read_measured_dos(MEASURED_DOS / "V_reference_dos_THz.dat")  # header: 'Frequency(TeraHz)'
    assert ref.unit == "THz" and len(ref.energy_mev) == 381
    assert ref.energy_mev[-1] == pytest.approx(7.6 * MEV_PER_THZ)
    # the same phonon spectrum: both peak below 30 meV and end near 33 meV (bcc V)
    assert 15 < ref.energy_mev[np.argmax(ref.dos)] < 30 and 15 < dos.energy_mev[np.argmax(dos.dos)] < 30


def test_measured_dos_in_cm1_keeps_the_integral(tmp_path):
    dos = read_measured_dos(MEASURED_DOS / "V_ARCS_Ei120meV_300K_dos.csv")
    path = tmp_path / "v_cm1.txt"
    table = np.column_stack([dos.energy_mev * CM1_PER_MEV, dos.dos / CM1_PER_MEV])
    np.savetxt(path, table, header="frequency (cm^-1)  dos")
    converted = read_measured_dos(path)
    assert converted.unit == "cm-1"
    assert converted.energy_mev == pytest.approx(dos.energy_mev)
    assert converted.dos == pytest.approx(dos.dos)
    np.savetxt(path, table, header="x y")
    with pytest.raises(InputError, match="does not say the energy unit"):
        read_measured_dos(path)
    assert read_measured_dos(path, unit="cm-1").energy_mev == pytest.approx(dos.energy_mev)


@pytest.mark.parametrize("text, message", [
    ("", "file is empty"),
    ("# XDI/1.0\n# Column.1: energy\n# Column.2: i0\n1 2\n2 3\n3 4\n4 5\n5 6\n", "no absorption columns"),
    ("# XDI/1.0\n# Column.1: energy\n# Column.2: mutrans\n1 2\n", "usable data points"),
    ("# energy mu\n8000 1\n8001 2\n8002 x\n", "non-numeric data line"),
    ("# energy mu\n8000 1 2\n8001 2\n", "has 2 columns, expected 3"),
    ("\x00\xff\xfe garbage", "not a text file|no numeric data"),
])
def test_bad_files_name_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.xdi" if "XDI" in text else tmp_path / "bad.txt"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(InputError, match=message) as info:
        read_measured_xas(path)
    assert info.value.source == str(path)


def test_missing_file():
    with pytest.raises(InputError, match="no such file"):
        read_measured_xas("does/not/exist.xdi")
