"""One protocol for every comparison result (XAS, phonon DOS, S(|Q|,E) map): the JSON record ``compare --json``
prints, its round trip through ``from_dict``, the human line, and one figure function that draws any kind."""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from pymatgen.analysis.xas.spectrum import XAS
from pymatgen.core import Lattice, Structure

import equispec
from equispec.analysis import Comparison, ComparisonResult, compare_phdos, compare_xas, format_scores
from equispec.analysis.energy_scale import EnergyScaleFit
from equispec.analysis.readers import MeasuredSqe, MeasuredXas
from equispec.analysis.sqe import SqeComparison, _fine_energies, compare_sqe
from equispec.physics.neutron import broaden_map, euphonic_force_constants, powder_map, quiet_euphonic
from equispec.plots import plot_comparison
from tests.analysis.test_energy_scale import RESOLUTION_MEV, TEMPERATURE_K, fcc_springs, measured_dos, stiffer
from tests.conftest import SHARED_DATA

ANATASE = SHARED_DATA / "xas" / "lightshow_anatase_ti_k"
#: A small map (4 |Q| x 1 meV bins, 8 points per sphere): enough for every field, seconds to compute.
Q_INV_ANG = np.linspace(1.5, 4.5, 4)
ENERGY_MEV = np.arange(-10.0, 40.0, 1.0)
NPTS = 8

#: The keys of each kind's ``to_dict()``, in order: the JSON ``equispec compare --json`` prints (unchanged).
SPECTRUM_KEYS = ["mse", "cosine", "pearson", "spearman", "wasserstein", "kind", "structure", "measured", "energy_unit",
                 "e_min", "e_max", "details"]
SQE_KEYS = ["pearson", "cosine", "chi2_reduced", "scale", "background", "kind", "structure", "measured",
            "energy_unit", "e_min", "e_max", "details", "cut"]
ENERGY_SCALE_KEYS = ["energy_scale", "energy_scale_error", "energy_scale_bounds", "scores_at_energy_scale"]


@pytest.fixture(scope="module")
def springs():
    return fcc_springs()


def _xas() -> Comparison:
    energy, mu = np.loadtxt(ANATASE / "anatase_theory_FEFF.txt").T
    structure = Structure(Lattice.cubic(4.0), ["Ti", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    measured = MeasuredXas("shifted.txt", energy + 2.75, mu * 3.0 + 0.2, "Ti", "K")
    return compare_xas(XAS(energy, mu, structure, "Ti", "K"), measured, core_hole_ev=0.0, max_shift_ev=15.0)


def _small_map(phonon, energy_scale: float) -> MeasuredSqe:
    fine = _fine_energies(ENERGY_MEV)
    with quiet_euphonic():
        fc = euphonic_force_constants(stiffer(phonon, energy_scale))
        sqe = broaden_map(fine, powder_map(fc, Q_INV_ANG, fine, TEMPERATURE_K, npts=NPTS).intensity, RESOLUTION_MEV)
    sqe = np.stack([np.interp(ENERGY_MEV, fine, row) for row in sqe])
    return MeasuredSqe("small_map.npz", Q_INV_ANG, ENERGY_MEV, 3.0 * sqe + 0.01 * sqe.max(),
                       np.full(sqe.shape, 0.02 * 3.0 * sqe.max()))


@pytest.fixture(scope="module")
def comparisons(springs) -> dict[str, ComparisonResult]:
    """One result of each kind, and the phonon kinds with a fitted energy scale (NaN in its arrays)."""
    _, result = springs
    measured = _small_map(result.phonon, 1.1)
    prediction = SimpleNamespace(force_constants=result.phonon, name="springs")
    return {"xas": _xas(),
            "phdos": compare_phdos(result, measured_dos(result, 1.2), resolution_mev=RESOLUTION_MEV),
            "phdos_energy_scale": compare_phdos(result, measured_dos(result, 1.2), resolution_mev=RESOLUTION_MEV,
                                                fit_energy_scale=True),
            "sqe": compare_sqe(prediction, measured, resolution=RESOLUTION_MEV, temperature_k=TEMPERATURE_K, npts=NPTS),
            "sqe_energy_scale": compare_sqe(prediction, measured, resolution=RESOLUTION_MEV,
                                            temperature_k=TEMPERATURE_K, npts=NPTS, fit_energy_scale=True)}


CASES = ["xas", "phdos", "phdos_energy_scale", "sqe", "sqe_energy_scale"]


@pytest.mark.parametrize("case", CASES)
def test_every_kind_follows_the_protocol(comparisons, case):
    c = comparisons[case]
    assert isinstance(c, ComparisonResult) and c.kind == case.split("_")[0]
    assert {"kind", "name", "measured_name", "scores", "details", "energy_unit", "energy_scale"} <= set(vars(c))
    assert np.array_equal(c.residual, c.measured - c.predicted, equal_nan=True)
    assert all(isinstance(v, np.ndarray) for v in c.arrays().values()) and "measured" in c.arrays()
    assert format_scores(c) == c.summary_line() and "\n" not in c.summary_line()
    assert all(isinstance(note, str) and note for note in c.notes())


@pytest.mark.parametrize("case", CASES)
def test_to_dict_is_the_record_compare_json_printed(comparisons, case):
    """The default record keeps its keys and order; the arrays come only when asked, after them."""
    c = comparisons[case]
    record = c.to_dict()
    keys = SQE_KEYS if c.kind == "sqe" else SPECTRUM_KEYS
    if c.kind == "xas":
        keys = keys[:5] + ["shift_ev"] + keys[5:]
    assert list(record) == keys + (ENERGY_SCALE_KEYS if c.energy_scale is not None else [])
    with_arrays = c.to_dict(arrays=True)
    assert list(with_arrays) == list(record) + ["arrays"]
    assert json.dumps({k: v for k, v in with_arrays.items() if k != "arrays"}) == json.dumps(record)
    assert set(with_arrays["arrays"]) == set(c.arrays()) | ({"energy_scale_predicted"} if c.energy_scale else set())


@pytest.mark.parametrize("case", CASES)
def test_from_dict_rebuilds_an_equal_result(comparisons, case):
    """Directly and through JSON (NaN written as null), the same class and values, and the same JSON again."""
    c = comparisons[case]
    for record in (c.to_dict(arrays=True), json.loads(json.dumps(c.to_dict(arrays=True), allow_nan=False))):
        back = ComparisonResult.from_dict(record)
        assert type(back) is type(c) and back == c
        assert json.dumps(back.to_dict()) == json.dumps(c.to_dict())
        assert back.summary_line() == c.summary_line()
    assert type(c).from_dict(c.to_dict(arrays=True)) == c


def test_equality_sees_arrays_and_from_dict_refuses_what_it_cannot_rebuild(comparisons):
    sqe = comparisons["sqe_energy_scale"]
    assert np.isnan(sqe.measured).any()  # NaN where not compared (the elastic line): equal to itself
    assert dataclasses.replace(sqe, measured=sqe.measured.copy()) == sqe
    c = comparisons["phdos_energy_scale"]
    changed = dataclasses.replace(c, predicted=c.predicted.copy())
    assert changed == c
    changed.predicted[0] += 1e-9
    assert changed != c and c != comparisons["phdos"]
    with pytest.raises(ValueError, match="arrays=True"):
        ComparisonResult.from_dict(c.to_dict())
    with pytest.raises(ValueError, match="unknown comparison kind"):
        ComparisonResult.from_dict(dict(c.to_dict(arrays=True), kind="raman"))
    with pytest.raises(ValueError, match="a 'phdos' record is a Comparison"):
        SqeComparison.from_dict(c.to_dict(arrays=True))


def test_summary_lines_are_the_lines_format_scores_printed():
    """Hand-made results: the exact text the two formatters gave before the protocol."""
    grid = np.linspace(0.0, 10.0, 11)
    scores = {"mse": 0.0012345, "cosine": 0.98765, "pearson": 0.912345, "spearman": 0.8, "wasserstein": 0.4567}
    xas = Comparison("xas", "TiO2.cif", "ti.xdi", "eV", grid, grid, grid, scores, shift_ev=-1.234)
    assert format_scores(xas) == ("TiO2.cif: mse 0.001234, cosine 0.9877, pearson 0.9123, spearman 0.8000, "
                                  "wasserstein 0.457 eV, shift -1.23 eV")
    fit = EnergyScaleFit(1.1234, 0.00456, (0.7, 1.4), dict(scores, mse=0.0001))
    dos = Comparison("phdos", "V.cif", "v.csv", "meV", grid, grid, grid, scores, energy_scale=fit)
    assert format_scores(dos) == ("V.cif: mse 0.001234, cosine 0.9877, pearson 0.9123, spearman 0.8000, wasserstein "
                                  "0.457 meV; fitted energy scale s = 1.1234 ± 0.0046: mse 0.0001, cosine 0.9877, "
                                  "pearson 0.9123, spearman 0.8000, wasserstein 0.457")
    sqe_scores = {"pearson": 0.95, "cosine": 0.97, "chi2_reduced": 12.345}
    sqe = SqeComparison("Al.cif", "al.npz", grid, grid, np.eye(11), np.eye(11), sqe_scores, 2.5, 0.01,
                        {"points": 121}, energy_scale=EnergyScaleFit(1.2, 0.01, (0.7, 1.4), sqe_scores))
    assert format_scores(sqe) == ("Al.cif: S(Q,E) pearson 0.9500, cosine 0.9700, reduced chi2 12.35 over 121 points "
                                  "(scale 2.5, background 0.01); fitted energy scale s = 1.200 ± 0.010: pearson "
                                  "0.9500, cosine 0.9700, reduced chi2 12.35")


@pytest.mark.parametrize("case", CASES)
def test_one_function_draws_every_kind(comparisons, case, tmp_path):
    assert plot_comparison(comparisons[case], tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_a_kind_without_a_figure_is_refused(comparisons, tmp_path):
    with pytest.raises(ValueError, match="no figure for a comparison of kind 'raman'"):
        plot_comparison(dataclasses.replace(comparisons["xas"], kind="raman"), tmp_path / "c.png")


def test_only_the_front_ends_and_workflows_import_the_figures():
    """``equispec.plots`` sits above io, physics, inference and analysis: in the package only the front ends
    (the CLI and the web page) and ``workflows`` import it (lazy imports inside functions count)."""
    src = Path(equispec.__file__).parent
    importers = set()
    for path in src.rglob("*.py"):
        package = ["equispec", *path.relative_to(src).parent.parts]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package[:len(package) - node.level + 1] if node.level else []
                module = ".".join(base + ([node.module] if node.module else []))
                targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            if "equispec.plots" in targets or any(t.startswith("equispec.plots.") for t in targets):
                importers.add(path.relative_to(src).parts[0].removesuffix(".py"))
    assert "cli" in importers and importers <= {"cli", "web", "workflows"}


def test_importing_the_figures_loads_neither_matplotlib_nor_scipy():
    """A figure path is checked before a run starts: that must not load matplotlib (or analysis' scipy)."""
    probe = ("import sys, equispec.plots\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'matplotlib', 'scipy'}))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
