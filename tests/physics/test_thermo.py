import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.phonon.dos import PhononDos
from scipy.integrate import quad

from equispec.physics.thermo import mean_frequency_cm1, phonon_thermodynamics
from equispec.api import PhononDosPrediction
from equispec.errors import InputError
from equispec.io.units import CM1_PER_THZ, GAS_CONSTANT_J_PER_K_MOL as R, J_PER_MOL_PER_CM1, KELVIN_CM1

FINE = np.linspace(0.0, 1000.0, 4001)  # 0.25 cm^-1
COARSE = np.arange(0.0, 1001.0, 20.0)  # the model's 51-point grid


def einstein_dos(omega_e: float, width: float = 0.5, grid=FINE) -> np.ndarray:
    return np.exp(-0.5 * ((grid - omega_e) / width) ** 2)


def einstein(omega_e: float, t: float) -> tuple[float, float, float]:
    """Cv, S per mole of atoms (J/(K mol)) and F (kJ/mol) of an Einstein solid."""
    x = KELVIN_CM1 * omega_e / t
    cv = 3 * R * x ** 2 * np.exp(x) / np.expm1(x) ** 2
    s = 3 * R * (x / np.expm1(x) - np.log(-np.expm1(-x)))
    f = 3 * (J_PER_MOL_PER_CM1 * omega_e / 2 + R * t * np.log(-np.expm1(-x))) / 1e3
    return cv, s, f


def debye_cv(omega_d: float, t: float) -> float:
    theta = KELVIN_CM1 * omega_d
    integral, _ = quad(lambda x: x ** 4 * np.exp(x) / np.expm1(x) ** 2, 0, theta / t)
    return 9 * R * (t / theta) ** 3 * integral


@pytest.mark.parametrize("t", [20.0, 100.0, 300.0, 1000.0])
def test_einstein_solid_cv_entropy_free_energy(t):
    result = phonon_thermodynamics(FINE, einstein_dos(300.0), t)
    cv, s, f = einstein(300.0, t)
    assert result.cv_j_per_k_mol[0] == pytest.approx(cv, rel=1e-3, abs=1e-4)
    assert result.entropy_j_per_k_mol[0] == pytest.approx(s, rel=1e-3, abs=1e-4)
    assert result.free_energy_kj_per_mol[0] == pytest.approx(f, rel=1e-4)
    assert result.mean_freq_cm1 == pytest.approx(300.0, abs=1e-6)


def test_debye_solid_matches_debye_function_and_dulong_petit():
    omega_d = 600.0
    dos = np.where(FINE <= omega_d, FINE ** 2, 0.0)
    temperatures = [10.0, 50.0, 150.0, 300.0, 800.0]
    result = phonon_thermodynamics(FINE, dos, temperatures)
    expected = [debye_cv(omega_d, t) for t in temperatures]
    np.testing.assert_allclose(result.cv_j_per_k_mol, expected, rtol=2e-3)
    high = phonon_thermodynamics(FINE, dos, 1e5)
    assert high.cv_j_per_k_mol[0] == pytest.approx(3 * R, rel=1e-5)  # Dulong–Petit, 24.94 J/(K mol)
    # 3/4 ω_D, up to the linear ramp that replaces the step at ω_D over one 0.25 cm^-1 interval
    assert mean_frequency_cm1(FINE, dos) == pytest.approx(0.75 * omega_d, abs=0.2)


def test_coarse_model_grid_is_close_to_the_fine_answer():
    """The 51-point, 20 cm^-1 grid of the model: a Debye DOS sampled there gives Cv(300 K) within 1% and
    S(300 K) within 3% (2.4%: the step at ω_D becomes a 20 cm^-1 ramp) of the fine-grid answer."""
    omega_d = 500.0
    coarse = phonon_thermodynamics(COARSE, np.where(COARSE <= omega_d, COARSE ** 2, 0.0), 300.0)
    fine = phonon_thermodynamics(FINE, np.where(FINE <= omega_d, FINE ** 2, 0.0), 300.0)
    assert coarse.cv_j_per_k_mol[0] == pytest.approx(fine.cv_j_per_k_mol[0], rel=0.01)
    assert coarse.entropy_j_per_k_mol[0] == pytest.approx(fine.entropy_j_per_k_mol[0], rel=0.03)


def test_scale_of_the_dos_does_not_matter_and_zero_bin_is_integrated():
    dos = einstein_dos(200.0, width=30.0, grid=COARSE) + 0.3  # non-zero at ω = 0, as smoothing leaves it
    a = phonon_thermodynamics(COARSE, dos, [100.0, 300.0])
    b = phonon_thermodynamics(COARSE, 7.0 * dos, [100.0, 300.0])
    np.testing.assert_allclose(a.entropy_j_per_k_mol, b.entropy_j_per_k_mol)
    assert np.all(np.isfinite(a.entropy_j_per_k_mol)) and np.all(np.isfinite(a.free_energy_kj_per_mol))
    # the 0-20 cm^-1 interval carries weight: leaving it out lowers the entropy
    dropped = phonon_thermodynamics(COARSE[1:], dos[1:], 300.0)
    assert a.entropy_j_per_k_mol[1] > dropped.entropy_j_per_k_mol[0] + 0.1


def test_agrees_with_pymatgen_per_formula_unit_on_a_fine_grid():
    structure = Structure(Lattice.cubic(5.6), ["Na"] * 4 + ["Cl"] * 4,
                          [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5],
                           [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5], [0.5, 0.5, 0.5]])
    dos = einstein_dos(120.0, 25.0) + 0.5 * einstein_dos(250.0, 15.0)
    freq_thz = FINE / CM1_PER_THZ
    states_per_thz = dos * 3 * len(structure) / np.trapezoid(dos, freq_thz)
    reference = PhononDos(freq_thz, states_per_thz)
    ours = phonon_thermodynamics(FINE, dos, 300.0, structure).per_formula_unit()
    assert ours.atoms_per_formula_unit == 2 and ours.per == "formula unit"
    assert ours.cv_j_per_k_mol[0] == pytest.approx(reference.cv(300.0, structure), rel=1e-3)
    assert ours.entropy_j_per_k_mol[0] == pytest.approx(reference.entropy(300.0, structure), rel=1e-3)
    assert ours.free_energy_kj_per_mol[0] * 1e3 == pytest.approx(
        reference.helmholtz_free_energy(300.0, structure), rel=1e-3)


def test_prediction_convenience_and_bad_inputs():
    structure = Structure(Lattice.cubic(4.2), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    dos = einstein_dos(400.0, 40.0, COARSE)
    prediction = PhononDosPrediction("MgO", structure, COARSE, dos / dos.max())
    result = prediction.thermodynamics([300.0])
    direct = phonon_thermodynamics(COARSE, dos, 300.0)
    np.testing.assert_allclose(result.cv_j_per_k_mol, direct.cv_j_per_k_mol)
    assert result.per_formula_unit().cv_j_per_k_mol[0] == pytest.approx(2 * result.cv_j_per_k_mol[0])
    with pytest.raises(InputError, match="temperatures must be finite and > 0 K"):
        prediction.thermodynamics([0.0, 300.0])
    with pytest.raises(InputError, match="not all zero"):
        phonon_thermodynamics(COARSE, np.zeros_like(COARSE), 300.0)
