"""``predict --dispersion`` and ``--sqe-path`` as a user meets them: outputs, and one-line errors with exit
status 2 that leave no file behind, all found before any force is computed."""

import subprocess
import sys

import pytest

from tests.conftest import EXAMPLES


def run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "equispec", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("args, message", [
    (["--dispersion"], "--dispersion: needs force constants: add --mode physics"),
    (["--sqe-path", "2 0 0 -> 3 0 0"], "--sqe-path: needs force constants: add --mode physics"),
    (["--mode", "physics", "--dispersion", "--q-path", "GAMMA -> Q"], "--q-path: unknown label 'Q' for this structure"),
    (["--mode", "physics", "--sqe-path", "2 0 0 -> 3 0"], "--sqe-path: malformed Q '3 0'"),
    (["--mode", "physics", "--sqe-path", "GAMMA -> BOGUS"], "--sqe-path: unknown label 'BOGUS'"),
    (["--mode", "physics", "--q-path", "GAMMA -> X"], "--q-path: is the path of --dispersion"),
    (["--mode", "physics", "--dispersion", "--ins"], "--ins: the powder spectra and --dispersion are separate"),
    (["--mode", "physics", "--dispersion", "--sqe-path", "2 0 0 -> 3 0 0"], "--sqe-path: one output at a time"),
    (["--mode", "physics", "--dispersion", "--ei", "30"], "--ei: is a neutron option"),
    (["--mode", "physics", "--sqe-path", "2 0 0 -> 3 0 0", "--phonon-order", "2"], "--phonon-order: is for the powder"),
])
def test_bad_path_options_are_one_line_exit_2_and_leave_no_file(tmp_path, args, message):
    out, plot = tmp_path / "out.json", tmp_path / "out.png"
    result = run("predict", EXAMPLES / "Al.cif", *args, "-o", out, "--plot", plot, "--cache", tmp_path / "cache")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("equispec: error: ") and message in lines[0], lines
    assert "Traceback" not in result.stderr and not out.exists() and not plot.exists()
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.npz"))  # no force computed


def test_a_path_takes_one_structure_and_its_own_outputs(tmp_path):
    two = run("predict", EXAMPLES / "Al.cif", EXAMPLES / "Si.cif", "--mode", "physics", "--dispersion")
    assert two.returncode == 2 and "--dispersion: takes one structure (got 2)" in two.stderr
    wrong = run("predict", EXAMPLES / "Al.cif", "--mode", "physics", "--dispersion", "-o", tmp_path / "d.npz")
    assert wrong.returncode == 2 and "output must end in .csv or .json" in wrong.stderr


@pytest.mark.slow
def test_dispersion_of_aluminium_from_the_command_line(tmp_path):
    out, plot = tmp_path / "al.csv", tmp_path / "al.png"
    result = run("predict", EXAMPLES / "Al.cif", "--mode", "physics", "--dispersion", "-o", out, "--plot", plot,
                 "--cache", tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    assert "dispersion along GAMMA -> X -> U | K -> GAMMA -> L -> W -> X" in result.stderr
    rows = [line.split(",") for line in out.read_text().splitlines() if not line.startswith("#")]
    assert rows[0] == ["distance", "label", "branch_1", "branch_2", "branch_3"]
    labels = [row[1] for row in rows[1:] if row[1]]
    assert labels == ["GAMMA", "X", "U", "K", "GAMMA", "L", "W", "X"]
    top = max(float(v) for row in rows[1:] for v in row[2:])
    assert 6.0 < top < 10.0  # Al's band top: 9.6 THz measured; the default potential is ~20 % soft
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_single_crystal_map_of_aluminium_from_the_command_line(tmp_path):
    import numpy as np

    out, plot = tmp_path / "al.npz", tmp_path / "al.png"
    result = run("predict", EXAMPLES / "Al.cif", "--mode", "physics", "--sqe-path", "2 0 0 -> 3 0 0 -> 3 1 0",
                 "--resolution-mev", "1", "-o", out, "--plot", plot, "--overlay-dispersion", "--cache", tmp_path / "c")
    assert result.returncode == 0, result.stderr
    assert "single-crystal S(Q,E) along 2 0 0 -> 3 0 0 -> 3 1 0" in result.stderr and "resolution 1 meV" in result.stderr
    with np.load(out, allow_pickle=False) as arrays:
        q_rlu, energy, intensity = arrays["q_rlu"], arrays["energy_mev"], arrays["intensity"]
    assert q_rlu[0] == pytest.approx([2, 0, 0], abs=1e-9) and q_rlu[-1] == pytest.approx([3, 1, 0], abs=1e-9)
    assert intensity.shape == (len(q_rlu), len(energy)) and energy.min() < 0 < energy.max()
    assert np.isfinite(intensity).all() and intensity.max() > 0
    assert plot.read_bytes()[:4] == b"\x89PNG"
