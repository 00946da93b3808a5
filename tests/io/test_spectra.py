"""Summary lines and CSV header lines of phonon predictions, on hand-made predictions (no model)."""

import numpy as np
from pymatgen.core import Lattice, Structure

from equispec.inference.phonon import PhononDosPrediction
from equispec.io.spectra import header_comments, summary_line
from equispec.io.units import CM1_PER_MEV
from equispec.models.calibration import SpreadCalibration
from equispec.physics import FullRangeDos

GRID = np.linspace(0.0, 1000.0, 51)
DIAMOND = Structure(Lattice.cubic(3.57), ["C"] * 2, [[0, 0, 0], [0.25, 0.25, 0.25]])


def test_physics_summary_comes_from_the_full_range_dos():
    """A DOS peaked at 1300 cm^-1, beyond the 51-bin grid (as diamond's optical modes are): the 51-bin DOS
    would put the peak at the top of its grid; the summary must report the full-range one."""
    energy = np.arange(0.0, 180.0, 0.1)
    dos = np.exp(-0.5 * ((energy * CM1_PER_MEV - 1300.0) / 20.0) ** 2)
    cut = np.exp(-0.5 * ((GRID - 1000.0) / 20.0) ** 2)
    prediction = PhononDosPrediction("C", DIAMOND, GRID, cut, mode="physics", imaginary_fraction=0.0,
                                     full_range=FullRangeDos(energy, dos),
                                     physics={"potential": "7net-0", "supercell": [4, 4, 4]})
    line = summary_line(prediction)
    peak = int(line.split("peak ")[1].split()[0])
    assert abs(peak - 1300) <= 1 and "mean 1300 cm^-1" in line
    assert header_comments("C", prediction) == ["# C: mode=physics potential=7net-0 supercell=4x4x4"]


def test_fast_summary_and_header_carry_the_reliability():
    calibration = SpreadCalibration.from_dict({"sigma_scale": 2.0, "mse_per_variance": 1.0,
                                               "valid_expected_mse": [0.01 * k for k in range(1, 21)]})
    std = np.full(51, 0.04)  # expected MSE (2 x 0.04)^2 = 0.0064: below all 20 valid values
    prediction = PhononDosPrediction("Si", DIAMOND, GRID, np.exp(-GRID / 300), dos_std=std,
                                     reliability=calibration.reliability(std))
    assert summary_line(prediction).endswith("; expected MSE 0.006, above 0% of valid materials")
    (line,) = header_comments("Si", prediction)
    assert line.startswith("# Si: expected_mse=0.0064 percentile_among_valid=0 beyond_valid_p90=false")
    assert np.allclose(prediction.dos_band, 2 * 2.0 * std)
