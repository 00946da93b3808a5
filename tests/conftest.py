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


@pytest.fixture(autouse=True)
def own_state(tmp_path_factory, monkeypatch):
    """What each test owns, whatever ran before it and in whatever order: an empty cache folder of its own
    (``EQUISPEC_CACHE_DIR``: the Materials Project and physics caches would otherwise be shared through the home
    folder), and torch's thread count and default dtype put back afterwards."""
    cache = tmp_path_factory.mktemp("equispec-cache")
    monkeypatch.setenv("EQUISPEC_CACHE_DIR", str(cache))
    threads, dtype = torch.get_num_threads(), torch.get_default_dtype()
    yield
    torch.set_num_threads(threads)
    torch.set_default_dtype(dtype)


@pytest.fixture
def one_thread():
    """Force comparisons run on one thread: with two, sevenn's own calculator gives forces that differ from
    run to run by ~3e-7 eV/Å (measured), i.e. force constants by ~1e-5 eV/Å^2 over a 0.01 Å displacement,
    so only a one-thread comparison can hold them to 1e-6."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


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
