import numpy as np
import pytest

from equispec.data.datasets import gamma_spectrum, read_gamma_frequencies, read_ids, read_phdos_csv
from equispec.errors import InputError
from tests.conftest import PHDOS


def test_reads_the_real_phdos_table(phdos_csv):
    table = read_phdos_csv(phdos_csv)
    assert len(table.ids) == 1333 and table.dos.shape == (1333, 51)
    np.testing.assert_allclose(table.freq_cm1, np.arange(0, 1001, 20))
    np.testing.assert_allclose(table.dos.max(axis=1), 1.0)
    valid = table.subset(read_ids(PHDOS / "splits" / "valid_mp_ids.txt"))
    assert len(valid.ids) == 141
    assert all(2 <= len(s) <= 40 for s in valid.structures)


def test_unlabelled_table_and_unknown_ids(tmp_path):
    table = read_phdos_csv(PHDOS / "phdos_test_structures.csv")
    assert table.dos is None and len(table.ids) == 189
    ids = tmp_path / "ids.txt"
    ids.write_text("mp-1011695\nmp-does-not-exist\n")
    with pytest.raises(InputError, match="1 ids not in the data \\(first: mp-does-not-exist\\)"):
        table.subset(read_ids(ids), str(ids))


def test_malformed_structure_column_is_reported_with_its_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("mp_id,structure\nmp-1,\"__import__('os').system('echo hi')\"\n")
    with pytest.raises(InputError, match=r"bad\.csv:2: malformed row"):
        read_phdos_csv(bad)


def test_gamma_spectrum_places_modes_on_the_grid():
    grid = np.arange(0, 1001, 20.0)
    spectrum = gamma_spectrum(np.array([0.0, 0.0, 0.0, 300.0, 300.0, 600.0]), grid, sigma_cm1=25.0)
    assert spectrum.max() == pytest.approx(1.0) and grid[np.argmax(spectrum)] == 300
    assert spectrum[grid == 600][0] == pytest.approx(0.5, abs=0.01)  # one mode against two
    assert spectrum[grid == 0][0] < 1e-10  # acoustic modes are dropped
    assert np.isnan(gamma_spectrum(np.zeros(3), grid)).all()


def test_reads_real_gamma_frequencies():
    gamma = read_gamma_frequencies(PHDOS / "petretto_liege_gamma_1521.json.gz")
    assert len(gamma) == 1521
    assert len(gamma["mp-149"]) == 6 and abs(gamma["mp-149"][:3]).max() < 1.0  # Si: 3 acoustic + 3 optical
    assert 480 < gamma["mp-149"][-1] < 540  # Si optical mode at Γ, ~15.5 THz
