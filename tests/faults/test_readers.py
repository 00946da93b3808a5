"""Readers refuse what they cannot read (issue 23). The issue's cases go through the real CLI (``compare``,
``predict``) in a subprocess; the reader's finer choices are checked in-process, where they are cheap."""

from __future__ import annotations

import numpy as np
import pytest

from equispec.analysis.readers import read_measured_dos, read_xdi
from equispec.data.structures import read_structure
from equispec.errors import InputError
from tests.faults.cli import error_line, example, ok, run

EDGE = np.linspace(8950.0, 9100.0, 60)  # Cu K edge (8979 eV)
MU = 1.0 / (1.0 + np.exp(-(EDGE - 8980.0) / 2.0))


def xdi(columns: list[str], rows) -> str:
    header = ["# XDI/1.0", "# Element.symbol: Cu", "# Element.edge: K"]
    header += [f"# Column.{k + 1}: {label}" for k, label in enumerate(columns)]
    header += ["#----", "# " + " ".join(columns)]
    return "\n".join(header + [" ".join(f"{v:.6g}" for v in row) for row in rows]) + "\n"


def transmission_rows():
    i0 = np.linspace(8900.0, 9200.0, len(EDGE))  # counts that happen to look like eV, and grow
    return np.column_stack([EDGE, i0, i0 * np.exp(-MU)])


def compare_xas(tmp_path, text: str):
    measured = tmp_path / "measured.xdi"
    measured.write_text(text)
    return run("compare", example("Cu.cif", tmp_path), measured, "--model", "xas-cu-k", cwd=tmp_path)


def test_xdi_without_an_energy_column_is_refused(tmp_path):
    """Main took the i0 counts as eV (``setdefault("energy", 0)``), scored them and exited 0."""
    line = error_line(compare_xas(tmp_path, xdi(["i0", "itrans"], transmission_rows()[:, 1:])))
    assert "measured.xdi: no energy column (columns: i0, itrans)" in line


def test_xdi_whose_header_and_data_disagree_is_refused(tmp_path):
    """Main: data rows of three columns (e i0 it) under a header naming two were scored on the wrong columns."""
    line = error_line(compare_xas(tmp_path, xdi(["i0", "itrans"], transmission_rows()).replace("# i0 itrans", "#")))
    assert "measured.xdi: header names 2 columns (i0, itrans), data rows have 3" in line


def test_xdi_with_all_nan_intensities_is_one_line(tmp_path):
    """Main: an IndexError traceback (a mask built from an empty array)."""
    rows = np.column_stack([EDGE, np.full(len(EDGE), np.nan)])
    line = error_line(compare_xas(tmp_path, xdi(["energy", "mutrans"], rows)))
    assert "measured.xdi: mutrans column has no finite values" in line


def dos_table(tmp_path, dos, error=None) -> str:
    energy = np.arange(len(dos), dtype=float)
    columns = [energy, dos] + ([error] if error is not None else [])
    path = tmp_path / "dos.csv"
    np.savetxt(path, np.column_stack(columns), delimiter=",", comments="",
               header="energy_meV,dos" + (",error" if error is not None else ""))
    return path


def debye(n=60):
    energy = np.arange(n, dtype=float)
    return energy ** 2 * (energy < 40) / 1600.0


@pytest.mark.parametrize("case, message", [
    ("all_nan", "dos.csv: DOS column has no finite values"),
    ("negative", "dos.csv: DOS goes down to -0.1901, 20% of its maximum below 0"),
    ("negative_errors", "dos.csv: 1 negative errors (row 11: -0.01)"),
])
def test_broken_dos_tables_are_one_line(tmp_path, case, message):
    """Main: all-NaN gave an IndexError traceback; negative densities and errors were scored without a word."""
    dos, error = debye(), None
    if case == "all_nan":
        dos = np.full(len(dos), np.nan)
    elif case == "negative":
        dos[45] = -0.2 * dos.max()
    else:
        error = np.full(len(dos), 0.01)
        error[10] = -0.01
    table = dos_table(tmp_path, dos, error)
    line = error_line(run("compare", example("V.cif", tmp_path), table, "--model", "phdos", cwd=tmp_path))
    assert message in line


def test_small_negative_dos_values_are_clipped_with_a_note(tmp_path):
    dos = debye()
    dos[45:48] = -0.01 * dos.max()  # background-subtraction noise above the cut-off
    clean = dos_table(tmp_path, np.clip(dos, 0, None)).rename(tmp_path / "clean.csv")
    noisy = dos_table(tmp_path, dos)
    v = example("V.cif", tmp_path)
    result = run("compare", v, noisy, "--model", "phdos", cwd=tmp_path)
    out = ok(result)
    assert "dos.csv: 3 small negative DOS values (down to 1% of the maximum) clipped to 0" in result.stderr.decode()
    assert out.split(":", 1)[1] == ok(run("compare", v, clean, "--model", "phdos", cwd=tmp_path)).split(":", 1)[1]


def two_block_cif(tmp_path):
    si, gaas = (example(name, tmp_path).read_text() for name in ("Si.cif", "GaAs.cif"))
    path = tmp_path / "two.cif"
    path.write_text(si.replace("data_Si", "data_first", 1) + "\n" + gaas.replace("data_GaAs", "data_second", 1))
    return path


def test_a_cif_with_several_blocks_names_them_unless_one_is_chosen(tmp_path):
    """Main silently predicted the first block."""
    path = two_block_cif(tmp_path)
    assert "data_first" in path.read_text() and "data_second" in path.read_text()
    line = error_line(run("predict", path, cwd=tmp_path))
    assert "two.cif: CIF has 2 structure blocks (first, second): choose one with --block NAME" in line
    assert "two.cif: GaAs, 2 atoms" in ok(run("predict", path, "--block", "second", cwd=tmp_path))
    assert "no structure block 'third' (blocks: first, second)" in error_line(
        run("predict", path, "--block", "third", cwd=tmp_path))


# in-process: the reader's choices


def test_xdi_energy_found_by_plausibility_when_unnamed(tmp_path):
    path = tmp_path / "mono.xdi"
    path.write_text(xdi(["mono", "mutrans"], np.column_stack([EDGE, MU])))
    measured = read_xdi(path)
    assert measured.energy_ev == pytest.approx(EDGE)
    assert measured.mu == pytest.approx(MU, abs=1e-6)  # written with 6 significant digits


def test_xdi_unnamed_columns_far_from_the_edge_are_not_energies(tmp_path):
    path = tmp_path / "far.xdi"
    path.write_text(xdi(["mono", "mutrans"], np.column_stack([EDGE / 10, MU])))  # 895-910 "eV": not Cu K
    with pytest.raises(InputError, match=r"no energy column \(columns: mono, mutrans\)"):
        read_xdi(path)


def test_xdi_energy_named_anywhere_is_taken(tmp_path):
    path = tmp_path / "swapped.xdi"
    path.write_text(xdi(["mutrans", "energy"], np.column_stack([MU, EDGE])))
    assert read_xdi(path).energy_ev == pytest.approx(EDGE)


def test_small_negative_dos_is_clipped_and_noted(tmp_path):
    dos = debye()
    dos[50] = -0.04 * dos.max()
    measured = read_measured_dos(dos_table(tmp_path, dos))
    assert measured.dos.min() == 0.0 and measured.dos[50] == 0.0
    assert "1 small negative DOS value (down to 4% of the maximum) clipped to 0" in measured.note
    assert read_measured_dos(dos_table(tmp_path, debye())).note is None


def test_a_cif_with_one_structure_block_and_a_global_block_reads(tmp_path):
    """IUCr files put publication data in a block of their own: not a choice to make."""
    path = tmp_path / "iucr.cif"
    path.write_text("data_global\n_journal_name_full 'Some journal'\n\n" + example("Si.cif", tmp_path).read_text())
    assert read_structure(path).composition.reduced_formula == "Si"
