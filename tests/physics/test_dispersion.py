"""Phonon dispersion from physics mode's force constants, against what holds without the code: acoustic
branches vanish at Gamma, a conventional cell has its primitive cell's branches, the branches summed over a
dense mesh give the physics-mode DOS, and Si's branches against inelastic neutron scattering."""

import json

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.phonon.bandstructure import PhononBandStructureSymmLine
from scipy import constants

from equispec.errors import InputError
from equispec.io.dispersion import write_dispersion
from equispec.physics import physics_dos
from equispec.physics.dispersion import frequencies_thz, phonon_dispersion, primitive_phonon
from equispec.physics.q_path import default_path, parse_q_path, path_frame, read_q_points
from equispec.plots import plot_dispersion
from tests.conftest import EXAMPLES

from .test_physics_dos import NearestNeighbourSprings

MEV_PER_THZ = constants.h * 1e12 / constants.eV * 1e3
A_FCC = 4.05


@pytest.fixture(scope="module")
def conventional_fcc():
    """fcc Al given as its 4-atom cube, on nearest-neighbour springs."""
    cube = Structure.from_spacegroup("Fm-3m", Lattice.cubic(A_FCC), ["Al"], [[0, 0, 0]])
    return physics_dos(cube, NearestNeighbourSprings(2.0, A_FCC / np.sqrt(2), 3.2), name="fcc")


def test_a_conventional_cell_has_the_primitive_branches_and_acoustic_ones_vanish_at_gamma(conventional_fcc):
    dispersion = phonon_dispersion(conventional_fcc.phonon, conventional_fcc.structure, name="fcc")
    assert len(conventional_fcc.structure) == 4 and dispersion.frequencies_thz.shape[1] == 3  # not 12, folded
    assert dispersion.path_text == "GAMMA -> X -> U | K -> GAMMA -> L -> W -> X"
    at_gamma = dispersion.frequencies_thz[[k for k, label in enumerate(dispersion.labels) if label == "GAMMA"]]
    assert np.abs(at_gamma).max() < 1e-4  # rounding of the symmetrised force constants (measured ~1e-7 THz)
    assert dispersion.imaginary["share"] == 0.0
    # nearest-neighbour springs: the LA branch at X is 2 sqrt(2k/M) / 2 pi, known in closed form. The springs are
    # harmonic in bond length, not in displacement: a 0.01 Å displacement off a 2.86 Å bond adds terms of
    # relative order (0.01 / 2.86)^2 ~ 1e-5 (measured 5e-6), hence 1e-4
    mass = 26.9815385 * constants.atomic_mass
    la_x = 2 * np.sqrt(2 * 2.0 * constants.eV / constants.angstrom**2 / mass) / (2 * np.pi) / 1e12
    at_x = dispersion.frequencies_thz[dispersion.labels.index("X")]
    assert at_x[-1] == pytest.approx(la_x, rel=1e-4)
    assert at_x[0] == pytest.approx(at_x[1], rel=1e-9) and at_x[0] == pytest.approx(la_x / np.sqrt(2), rel=1e-4)


def test_branches_over_a_dense_mesh_give_the_physics_mode_dos(conventional_fcc):
    """The same force constants, summed mode by mode over a 32^3 mesh of the primitive cell, against the
    tetrahedron DOS of physics mode (per atom). Compared as cumulative distributions: a histogram of a
    finite mesh and the tetrahedron method differ by a few hundredths of a mode near the band top's van Hove
    singularity (0.03 of 3 modes allowed)."""
    primitive = primitive_phonon(conventional_fcc.phonon)
    n = 32
    grid = (np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5) / n
    q_cart = grid @ (2 * np.pi * np.linalg.inv(np.asarray(primitive.primitive.cell)).T)
    energies = frequencies_thz(primitive, q_cart).ravel() * MEV_PER_THZ
    full = conventional_fcc.full_range
    atoms = len(conventional_fcc.structure)
    step = float(full.energy_mev[1] - full.energy_mev[0])
    tetrahedron = np.cumsum(full.dos) * step / atoms
    counted = np.searchsorted(np.sort(energies), full.energy_mev + 0.5 * step) / len(energies) * 3
    assert counted[-1] == pytest.approx(3.0) and tetrahedron[-1] == pytest.approx(3.0, abs=0.03)
    assert np.abs(counted - tetrahedron).max() < 0.05


def test_user_paths_labels_and_outputs(conventional_fcc, tmp_path):
    structure = conventional_fcc.structure
    frame = path_frame(structure)
    dispersion = phonon_dispersion(conventional_fcc.phonon, structure, "GAMMA -> X | L -> M=0.5 0.5 0 -> 2 0 0",
                                   frame, name="fcc")
    assert [label for label in dispersion.labels if label] == ["GAMMA", "X", "L", "M", ""][:4]
    assert dispersion.samples.breaks and dispersion.q_rlu[-1] == pytest.approx([2, 0, 0], abs=1e-9)
    # (2, 0, 0) is a reciprocal lattice vector of fcc: every branch is back at zero there
    assert np.abs(dispersion.frequencies_thz[-1]).max() < 1e-4
    csv_path = write_dispersion(dispersion, tmp_path / "d.csv")
    rows = [line for line in csv_path.read_text().splitlines() if not line.startswith("#")]
    assert rows[0] == "distance,label,branch_1,branch_2,branch_3" and len(rows) == len(dispersion.labels) + 1
    assert rows[1].split(",")[1] == "GAMMA" and rows[2].split(",")[1] == ""
    values = np.array([[float(x) for x in row.split(",")[2:]] for row in rows[1:]])
    assert values == pytest.approx(dispersion.frequencies_thz, rel=1e-5, abs=1e-6)
    record = json.loads(write_dispersion(dispersion, tmp_path / "d.json").read_text())["dispersion"]
    assert record["labels"] == dispersion.labels and np.shape(record["frequencies_thz"]) == (len(rows) - 1, 3)
    band = dispersion.band_structure
    assert isinstance(band, PhononBandStructureSymmLine) and band.nb_bands == 3
    assert band.bands == pytest.approx(dispersion.frequencies_thz.T)
    assert plot_dispersion(dispersion, tmp_path / "d.png", conventional_fcc).read_bytes()[:4] == b"\x89PNG"
    points = tmp_path / "q.txt"
    points.write_text("# h k l label\n0 0 0 GAMMA\n0.5 0 0\n1 0 0 X\n")
    explicit = read_q_points(points, frame)
    assert explicit.explicit and explicit.labels == ["GAMMA", "X"]


@pytest.mark.parametrize("text, problem", [
    ("GAMMA -> Q", "unknown label 'Q'"),
    ("GAMMA -> 0.5 0", "malformed Q '0.5 0'"),
    ("GAMMA -> -> X", "an empty vertex"),
    ("GAMMA", "needs two vertices"),
    ("1 0 x -> 0 0 0", "malformed Q"),
])
def test_bad_paths_are_one_line_errors(conventional_fcc, text, problem):
    with pytest.raises(InputError) as caught:
        parse_q_path(text, path_frame(conventional_fcc.structure), "--q-path")
    assert problem in str(caught.value) and str(caught.value).startswith("--q-path: ")


def test_seekpath_points_are_in_the_frame_of_the_structure_as_given():
    """A rotated copy of Si gets the same labelled points in r.l.u. (seekpath's own frame is undone)."""
    from pymatgen.core.operations import SymmOp

    silicon = Structure.from_file(EXAMPLES / "Si.cif")
    turned = silicon.copy()
    turned.apply_operation(SymmOp.from_axis_angle_and_translation([1, 2, 3], 33.0))
    plain, rotated = path_frame(silicon), path_frame(turned)
    for label in ("X", "L", "K"):
        assert rotated.to_rlu(rotated.points[label]) == pytest.approx(plain.to_rlu(plain.points[label]), abs=1e-9)
        # the point itself turned with the crystal
        assert np.linalg.norm(rotated.points[label]) == pytest.approx(np.linalg.norm(plain.points[label]))
    assert default_path(plain).text == default_path(rotated).text


#: Si, inelastic neutron scattering at room temperature (Dolling 1963; Nilsson & Nelin 1972), THz, and the
#: default potential's values with phonopy on the example cell (measured 2026-12-06, 7net-l3i5, 3x3x3).
SI_MEASURED = {("GAMMA", "TO/LO"): (15.5, 13.07), ("X", "TA"): (4.5, 4.65), ("X", "LA/LO"): (12.3, 10.11),
               ("X", "TO"): (13.9, 12.74), ("L", "TA"): (3.4, 3.62), ("L", "LA"): (11.4, 9.57),
               ("L", "LO"): (12.6, 11.00), ("L", "TO"): (14.7, 12.84)}
#: which of the six ascending branches each mode is
SI_BRANCH = {"TO/LO": 5, "TA": 0, "LA/LO": 2, "TO": 4, "LA": 2, "LO": 3}


@pytest.mark.slow
def test_silicon_branches_against_neutron_scattering(tmp_path):
    """The default potential is soft for Si: its optic and LA branches are 12-18 % below the measured ones,
    its TA branches 3-7 % above (docs/neutron.md has the table). Two promises: every branch within 20 % of
    experiment, and each value within 0.05 THz of what was measured for the table (the forces change run to
    run by ~1e-7 eV/Å)."""
    import equispec

    model = equispec.load_model("phdos", mode="physics")
    model.use_physics_cache(tmp_path)
    prediction = model.predict(EXAMPLES / "Si.cif")[0]
    assert prediction.physics["potential"] == "7net-l3i5"
    dispersion = phonon_dispersion(prediction.force_constants, prediction.structure, "GAMMA -> X -> L -> GAMMA")
    rows = {label: dispersion.frequencies_thz[dispersion.labels.index(label)] for label in ("GAMMA", "X", "L")}
    assert np.abs(rows["GAMMA"][:3]).max() < 1e-3  # acoustic at Gamma
    for (point, mode), (measured, predicted) in SI_MEASURED.items():
        value = rows[point][SI_BRANCH[mode]]
        assert abs(value - measured) / measured < 0.20, (point, mode, value)
        assert value == pytest.approx(predicted, abs=0.05), (point, mode, value)
