import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "data" / "examples"
SHARED_DATA = Path(os.environ.get("EQUISPEC_SHARED_DATA", ROOT.parent / "shared" / "data"))
PHDOS = SHARED_DATA / "phdos"

#: Equivariance tolerances per dtype (e3nn's assert_equivariant uses the same orders of magnitude).
TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-4}


@pytest.fixture
def float64():
    """Run a test in float64 and restore the default dtype afterwards."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch.float64
    torch.set_default_dtype(previous)


@pytest.fixture(scope="session")
def phdos_csv():
    path = PHDOS / "phdos_trainval.csv"
    if not path.is_file():
        pytest.fail(f"shared data missing: {path} (set EQUISPEC_SHARED_DATA)")
    return path
XAS_CU = SHARED_DATA / "xas" / "omnixas_cu_feff"


@pytest.fixture(scope="session")
def xas_cu_folder():
    if not (XAS_CU / "cu_k_feff_spectra.npz").is_file():
        pytest.fail(f"shared data missing: {XAS_CU} (set EQUISPEC_SHARED_DATA)")
    return XAS_CU
