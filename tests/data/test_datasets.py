import numpy as np
import pytest

from equispec.data.datasets import read_ids, read_phdos_csv
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
