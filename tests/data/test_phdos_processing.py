"""Raw DOS -> 51-bin labels, checked against cases with a known answer and against the shipped data."""

import csv
import json
import sys

import numpy as np
import pytest

from equispec.data.phdos_processing import PHDOS_GRID_CM1, process_raw_dos, process_raw_dos_thz
from equispec.errors import InputError
from equispec.io.units import CM1_PER_THZ


def _independent_pipeline(freq_cm1, dos):
    """The README's recipe written out without scipy: resample on 1 cm^-1, then at each output point a
    least-squares cubic over 101 samples (the edge window at the ends, as Savitzky–Golay does), clip, normalise."""
    fine_x = np.arange(np.ceil(freq_cm1[0]), freq_cm1[-1] + 1e-9, 1.0)
    fine_y = np.interp(fine_x, freq_cm1, dos)
    out = []
    for w in PHDOS_GRID_CM1:
        if w < fine_x[0] or w > fine_x[-1]:
            out.append(0.0)
            continue
        i = int(round(w - fine_x[0]))
        lo = min(max(i - 50, 0), len(fine_x) - 101)
        coeffs = np.polyfit(fine_x[lo:lo + 101] - w, fine_y[lo:lo + 101], 3)
        out.append(max(np.polyval(coeffs, 0.0), 0.0))
    out = np.array(out)
    return out / out.max()


def _phonopy_dos():
    """DOS of an fcc crystal with nearest-neighbour springs, from phonopy on a fine mesh (THz)."""
    phonopy = pytest.importorskip("phonopy")
    from phonopy.structure.atoms import PhonopyAtoms

    a = 3.6
    unitcell = PhonopyAtoms(symbols=["Al"], cell=np.array([[0, a / 2, a / 2], [a / 2, 0, a / 2], [a / 2, a / 2, 0]]),
                            scaled_positions=[[0, 0, 0]])
    ph = phonopy.Phonopy(unitcell, supercell_matrix=np.eye(3, dtype=int) * 3)
    supercell = ph.supercell
    positions, cell = supercell.positions, supercell.cell
    n = len(positions)
    k = 8.0  # eV/Å^2: puts the top of the spectrum near 800 cm^-1
    fc = np.zeros((n, n, 3, 3))
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            d = positions[j] - positions[i]
            frac = np.linalg.solve(cell.T, d)
            d = (frac - np.round(frac)) @ cell
            r = np.linalg.norm(d)
            if abs(r - a / np.sqrt(2)) < 1e-3:
                fc[i, j] = -k * np.outer(d, d) / r ** 2
    for i in range(n):
        fc[i, i] = -fc[i].sum(axis=0)
    ph.force_constants = fc
    ph.run_mesh([20, 20, 20], is_gamma_center=True)
    ph.run_total_dos(freq_pitch=0.005)
    return np.asarray(ph.total_dos.frequency_points), np.asarray(ph.total_dos.dos)


def test_cubic_dos_is_reproduced_exactly():
    # Savitzky–Golay of order 3 leaves a cubic unchanged, so the label must be the cubic itself,
    # sampled every 20 cm^-1 and max-normalised. Raw grid in THz, not aligned with the output.
    freq_cm1 = np.linspace(0.0, 1200.0, 4801) + 0.13
    dos = freq_cm1 ** 2 * (1200.0 - freq_cm1)
    label = process_raw_dos_thz(freq_cm1 / CM1_PER_THZ, dos)
    exact = PHDOS_GRID_CM1 ** 2 * (1200.0 - PHDOS_GRID_CM1)
    exact[0] = 0.0
    exact = exact / exact.max()
    assert label.shape == (51,)
    print(f"max |pipeline - analytic cubic| = {np.max(np.abs(label - exact)):.2e}", file=sys.stderr)
    assert np.max(np.abs(label - exact)) < 1e-5


def test_phonopy_dos_matches_the_readme_recipe():
    freq_thz, dos = _phonopy_dos()
    freq_cm1 = freq_thz * CM1_PER_THZ
    assert 600 < freq_cm1[np.nonzero(dos > 1e-6)[0][-1]] < 1000  # a realistic, high-resolution raw DOS
    label = process_raw_dos_thz(freq_thz, dos)
    reference = _independent_pipeline(freq_cm1, dos)
    difference = np.max(np.abs(label - reference))
    print(f"max |pipeline - independent recipe| = {difference:.2e}", file=sys.stderr)
    assert difference < 1e-9
    assert label.max() == 1.0 and label.min() >= 0.0
    top = freq_cm1[-1]
    assert np.all(label[PHDOS_GRID_CM1 > top] == 0.0)  # zero above the highest mode, like the shipped rows


def test_ringing_is_clipped_and_modes_above_1000_are_cut():
    freq_cm1 = np.linspace(0.0, 1500.0, 15001)
    dos = ((freq_cm1 > 300) & (freq_cm1 < 340)).astype(float) + 2.0 * ((freq_cm1 > 1200) & (freq_cm1 < 1300))
    label = process_raw_dos(freq_cm1, dos)
    assert label.min() == 0.0 and np.count_nonzero(label == 0.0) > 40
    assert label.max() == pytest.approx(1.0)  # the peak at 1200-1300 cm^-1 does not set the maximum
    assert np.argmax(label) == 16  # 320 cm^-1


def test_bad_raw_dos_is_a_clear_error():
    with pytest.raises(InputError, match="strictly increasing"):
        process_raw_dos([0, 2, 1], [0, 1, 0], "mp-1")
    with pytest.raises(InputError, match="no positive DOS"):
        process_raw_dos(np.linspace(0, 2000, 2001), np.zeros(2001), "mp-1")
    with pytest.raises(InputError, match="2 or more points"):
        process_raw_dos([1.0], [1.0], "mp-1")


def test_shipped_labels_have_the_properties_the_pipeline_guarantees(phdos_csv):
    csv.field_size_limit(sys.maxsize)
    with open(phdos_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    grids = {tuple(json.loads(r["phfreq"])) for r in rows}
    assert grids == {tuple(PHDOS_GRID_CM1.tolist())}
    dos = np.array([json.loads(r["phdos"]) for r in rows])
    assert dos.min() >= 0.0 and np.allclose(dos.max(axis=1), 1.0)
    assert np.mean(dos == 0.0) > 0.1  # exact zeros: clipped ringing and empty bins, as the pipeline writes
