"""Raw phonon DOS -> the shipped 51-bin, max-normalised labels, step by step as
``../shared/data/phdos/README.md`` describes them.

The shipped labels (Chen, Andrejevic et al. 2021, from Petretto et al. 2018) came from anaddb DOS on
its default 1 cm^-1 frequency step, so their Savitzky–Golay window of 101 samples spans 101 cm^-1.
Materials Project documents give the DOS in THz on a grid of their own, so the raw DOS is first
resampled (linearly) onto integer wavenumbers; that keeps the smoothing width the same in cm^-1
whatever grid the source used. Then, as in the README:

1. Savitzky–Golay, window 101 samples (= 101 cm^-1), cubic, over the whole raw range;
2. the smoothed DOS at 0, 20, ..., 1000 cm^-1 (51 points; modes above 1000 cm^-1 are cut off, and
   the DOS is zero outside the raw range);
3. negative values (ringing of the filter next to gaps and band edges) set to 0, which is why the
   shipped rows hold exact zeros;
4. divided by the maximum.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import savgol_filter

from ..errors import InputError
from ..io.units import CM1_PER_THZ

__all__ = ["PHDOS_GRID_CM1", "SAVGOL_WINDOW", "SAVGOL_ORDER", "RESAMPLE_STEP_CM1", "process_raw_dos",
           "process_raw_dos_thz", "smooth_raw_dos"]

#: The shipped labels' grid: 51 points, 0, 20, ..., 1000 cm^-1.
PHDOS_GRID_CM1 = np.linspace(0.0, 1000.0, 51)
#: Savitzky–Golay window (samples of the 1 cm^-1 grid) and polynomial order of the shipped labels.
SAVGOL_WINDOW = 101
SAVGOL_ORDER = 3
#: Step of the grid the raw DOS is resampled onto before smoothing (anaddb's default DOS step).
RESAMPLE_STEP_CM1 = 1.0


def process_raw_dos(freq_cm1, dos, name: str = "phonon DOS") -> np.ndarray:
    """The 51-bin label of a raw DOS.

    Args:
        freq_cm1: (n,) increasing raw frequencies in cm^-1 (negative ones, from unstable modes, allowed).
        dos: (n,) raw DOS, any normalisation.
        name: what to call the input in an error.

    Returns:
        (51,) DOS on :data:`PHDOS_GRID_CM1`, >= 0, maximum 1.

    Raises:
        InputError: too few points, a non-increasing grid, or no positive DOS below 1000 cm^-1.
    """
    out = smooth_raw_dos(freq_cm1, dos, name)
    peak = out.max()
    if not peak > 0:
        raise InputError(name, "no positive DOS between 0 and 1000 cm^-1")
    return out / peak


def smooth_raw_dos(freq_cm1, dos, name: str = "phonon DOS") -> np.ndarray:
    """Steps 1-3 without the normalisation: partial DOS smoothed this way add up to the smoothed total."""
    freq_cm1 = np.asarray(freq_cm1, dtype=float)
    dos = np.asarray(dos, dtype=float)
    if freq_cm1.ndim != 1 or freq_cm1.shape != dos.shape or len(freq_cm1) < 2:
        raise InputError(name, "raw DOS needs matching 1-D frequency and density arrays of 2 or more points")
    if not (np.all(np.isfinite(freq_cm1)) and np.all(np.isfinite(dos))):
        raise InputError(name, "raw DOS has NaN or infinite values")
    if np.any(np.diff(freq_cm1) <= 0):
        raise InputError(name, "raw DOS frequencies are not strictly increasing")
    start = np.ceil(freq_cm1[0] / RESAMPLE_STEP_CM1) * RESAMPLE_STEP_CM1
    fine_cm1 = np.arange(start, freq_cm1[-1] + 1e-9, RESAMPLE_STEP_CM1)
    fine = np.interp(fine_cm1, freq_cm1, dos)
    if len(fine) >= SAVGOL_WINDOW:
        fine = savgol_filter(fine, SAVGOL_WINDOW, SAVGOL_ORDER)
    # else: a raw range narrower than the window (< 101 cm^-1) is left unsmoothed
    out = np.interp(PHDOS_GRID_CM1, fine_cm1, fine, left=0.0, right=0.0)
    return np.clip(out, 0.0, None)


def process_raw_dos_thz(freq_thz, dos, name: str = "phonon DOS") -> np.ndarray:
    """:func:`process_raw_dos` for frequencies in THz (pymatgen ``PhononDos``, Materials Project documents)."""
    return process_raw_dos(np.asarray(freq_thz, dtype=float) * CM1_PER_THZ, dos, name)
