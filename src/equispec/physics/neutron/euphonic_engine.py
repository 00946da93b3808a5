"""The Euphonic engine: phonopy force constants into Euphonic, its modes on a Monkhorst-Pack mesh (guarded
against the exact zeros at Gamma that turn its sums into NaN) and its (neutron-weighted) DOS. Euphonic is an
optional dependency, imported only when one of these runs."""

from __future__ import annotations

import contextlib
import io
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ...errors import ModelError


@contextlib.contextmanager
def quiet_euphonic():
    """Euphonic's notes (OpenMP, isotope look-ups printed to stdout, near-degenerate gradients) are not for
    our users: keep them off the terminal and out of JSON written to stdout."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _euphonic():
    try:
        import euphonic
    except ImportError:
        raise ModelError("neutron", "needs Euphonic: pip install 'equispec[neutron]'") from None
    return euphonic


def euphonic_force_constants(phonon):
    """A ``phonopy.Phonopy`` holding force constants -> ``euphonic.ForceConstants`` (through phonopy's own
    summary file, Euphonic's documented entry point for phonopy data)."""
    euphonic = _euphonic()
    with tempfile.TemporaryDirectory(prefix="equispec-euphonic-") as folder:
        phonon.save(filename=str(Path(folder) / "phonopy.yaml"), settings={"force_constants": True})
        return euphonic.ForceConstants.from_phonopy(path=folder, summary_name="phonopy.yaml")


#: What an acoustic frequency of exactly 0 at Gamma becomes (meV): far below Euphonic's 0.01 meV cut.
_ZERO_FREQUENCY_STAND_IN_MEV = -1e-9


def _no_exact_zero(modes):
    """``modes`` with frequencies of exactly 0 moved to ``_ZERO_FREQUENCY_STAND_IN_MEV``. At Gamma the acoustic
    frequencies the ASR leaves are rounding residuals, and some runs' forces make one exactly 0. Euphonic's
    Debye-Waller sum masks modes below its minimum frequency by multiplying their 1/(omega tanh) term by 0,
    which for omega = 0 is inf x 0 = NaN and turns the whole map into NaN (seen in about 1 in 5 fresh Al
    force calculations). A tiny negative frequency is masked the same way, with a finite term."""
    from euphonic import QpointPhononModes, ureg

    frequencies = modes.frequencies.to("meV").magnitude
    if not (frequencies == 0).any():
        return modes
    moved = np.where(frequencies == 0, _ZERO_FREQUENCY_STAND_IN_MEV, frequencies)
    return QpointPhononModes(modes.crystal, modes.qpts, ureg.Quantity(moved, "meV"), modes.eigenvectors,
                             modes.weights)


def _mesh_modes(fc, mesh_spacing_inv_ang: float, mode_widths: bool = False):
    """Phonons on a Monkhorst-Pack mesh (and, with ``mode_widths``, Euphonic's adaptive widths)."""
    from euphonic import ureg
    from euphonic.util import mp_grid

    from euphonic.util import mode_gradients_to_widths

    grid = fc.crystal.get_mp_grid_spec(ureg.Quantity(mesh_spacing_inv_ang, "1/angstrom"))
    if not mode_widths:
        return _no_exact_zero(fc.calculate_qpoint_phonon_modes(mp_grid(grid), asr="reciprocal"))
    modes, gradients = fc.calculate_qpoint_phonon_modes(mp_grid(grid), asr="reciprocal", return_mode_gradients=True)
    modes = _no_exact_zero(modes)
    widths = mode_gradients_to_widths(gradients, fc.crystal.cell_vectors)
    # Euphonic divides by 2 omega for a mode's gradient. At Gamma the acoustic omega left by the ASR is a
    # rounding residual, and when that residual is exactly 0 (it depends on the last bits of the forces, so
    # on the run) the gradient is 0/0 = NaN and that one NaN width turns every bin of the DOS into NaN. Such
    # a mode sits at E = 0: give it width 0, which Euphonic raises to its minimum width.
    magnitude = widths.magnitude
    if not np.isfinite(magnitude).all():
        widths = ureg.Quantity(np.where(np.isfinite(magnitude), magnitude, 0.0), widths.units)
    return modes, widths


def euphonic_dos(fc, energy_edges_mev: np.ndarray, mesh_spacing_inv_ang: float = 0.1,
                 weighting: str | None = None) -> dict[str, np.ndarray]:
    """Per-element (partial) DOS on a Monkhorst-Pack mesh with Euphonic's adaptive broadening (each mode
    gets a width from its group velocity and the mesh spacing, so the DOS converges on modest meshes).

    Args:
        fc: ``euphonic.ForceConstants``.
        energy_edges_mev: (n + 1,) bin edges in meV.
        mesh_spacing_inv_ang: largest spacing of the q-mesh in 1/Å.
        weighting: None (plain DOS) or ``coherent-plus-incoherent`` (neutron-weighted, Sears 1992
            cross-sections times M_avg / M per atom, as Euphonic defines it).

    Returns:
        element -> (n,) DOS summed over that element's atoms; plain: states per meV per atom of the cell
        (3 in all); weighted: mbarn per meV per atom.
    """
    from euphonic import ureg

    modes, widths = _mesh_modes(fc, mesh_spacing_inv_ang, mode_widths=True)
    edges = ureg.Quantity(np.asarray(energy_edges_mev, float), "meV")
    kwargs = {"weighting": weighting, "cross_sections": "Sears1992"} if weighting else {}
    pdos = modes.calculate_pdos(edges, mode_widths=widths, **kwargs)
    units = "mbarn/meV" if weighting else "1/meV"
    out: dict[str, np.ndarray] = {}
    for line, spectrum in zip(pdos.metadata["line_data"], pdos.y_data.to(units).magnitude):
        out[line["species"]] = out.get(line["species"], 0.0) + spectrum
    return out


def euphonic_neutron_dos(fc, energy_edges_mev: np.ndarray, mesh_spacing_inv_ang: float = 0.1) -> np.ndarray:
    """(n,) neutron-weighted DOS (coherent + incoherent cross-sections, incoherent approximation), mbarn/meV."""
    return sum(euphonic_dos(fc, energy_edges_mev, mesh_spacing_inv_ang, "coherent-plus-incoherent").values())

