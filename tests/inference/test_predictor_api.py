import numpy as np
import pytest
from ase.build import bulk
from pymatgen.phonon.dos import PhononDos

import equispec
from equispec.io.units import CM1_PER_THZ
from tests.conftest import EXAMPLES


@pytest.fixture(scope="module")
def model():
    return equispec.load_model("phdos")


def test_predict_accepts_paths_structures_and_atoms(model):
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = bulk("Si", "diamond", a=5.431)
    structure = AseAtomsAdaptor.get_structure(atoms)
    results = model.predict([EXAMPLES / "Si.cif", structure, atoms])
    assert len(results) == 3
    for r in results[1:]:
        np.testing.assert_allclose(r.dos, results[0].dos, atol=1e-5)
    r = results[0]
    assert r.freq_cm1.shape == r.dos.shape == (51,)
    assert r.dos.max() == pytest.approx(1.0) and (r.dos >= 0).all()


def test_results_hold_pymatgen_phonon_dos_and_partials(model):
    r = model.predict(EXAMPLES / "SrTiO3.cif")[0]
    assert isinstance(r.phonon_dos, PhononDos)
    np.testing.assert_allclose(r.phonon_dos.frequencies * CM1_PER_THZ, r.freq_cm1)
    assert set(r.partial_dos) == {"Sr", "Ti", "O"}
    np.testing.assert_allclose(sum(r.partial_dos.values()), r.dos, atol=1e-5)
    # the atom-wise split is learned without partial-DOS labels, but it is physical: light oxygen carries
    # most of the spectrum above 500 cm^-1 and heavy strontium almost none of it
    high = r.freq_cm1 > 500
    assert r.partial_dos["O"][high].sum() > 0.6 * r.dos[high].sum()
    assert r.partial_dos["Sr"][high].sum() < 0.05 * r.dos[high].sum()


def test_unknown_model_name_lists_shipped_ones():
    with pytest.raises(ValueError, match=r"unknown model \(shipped: phdos"):
        equispec.load_model("phdos-v9")


def test_model_metadata(model):
    info = model.info
    assert info.task == "phdos" and model.task == "phdos" and info.architecture == "ensemble" and info.n_members == 5
    assert {m["architecture"] for m in info.raw["members"]} == {"phdos_gate_v1"} and info.raw["format_version"] == 1
    assert len(info.elements) == 64 and info.grid[-1] == 1000 and info.pretrained == "sevennet-0"
    assert info.valid_metrics["n"] == 141
