"""Neutron observables of force constants with Euphonic: neutron-weighted DOS, powder S(|Q|, E), and what
a direct-geometry spectrometer sees of it (kinematic range, energy resolution).

Euphonic (Fair et al., J. Appl. Cryst. 55, 1689 (2022); GPL-3.0, an optional dependency: ``pip install
'equispec[neutron]'``) takes phonopy's force constants, interpolates phonons anywhere in reciprocal space and
computes the coherent one-phonon structure factor with Debye-Waller and Bose factors. Named spectrometer
resolutions come from ``resins`` (PyChop fits and published models for ARCS, SEQUOIA, MAPS, MARI, MERLIN,
LET, TOSCA, VISION, ...; GPL-3.0, same extra); otherwise a Gaussian FWHM constant or polynomial in E.

Units at this boundary: |Q| in 1/Å, energies in meV, temperatures in K. Intensities are Euphonic's:
mbarn per meV per atom of the cell (S(Q,E) in mbarn/sr/meV per atom, a powder average over |Q| spheres).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, ModelError

__all__ = ["InsSpectra", "ins_spectra", "neutron_weights", "neutron_weighted_dos", "PowderMap", "PowderModes",
           "euphonic_force_constants", "euphonic_dos", "euphonic_neutron_dos", "powder_map", "powder_modes",
           "kinematic_limits", "kinematic_mask", "instrument_resolution", "broaden_map", "map_energies",
           "NEUTRON_MEV_ANG2"]

#: E = NEUTRON_MEV_ANG2 * k^2 for a neutron: hbar^2 / (2 m_n) in meV Å^2 (CODATA 2018).
NEUTRON_MEV_ANG2 = 2.0721247

#: Scattering angles (degrees) of common direct-geometry spectrometers' detector banks.
DEFAULT_ANGLES_DEG = (3.0, 135.0)


def neutron_weights(elements) -> dict[str, float]:
    """Per-element INS weights ``sigma_scatt / M`` in barn per atomic mass unit.

    Args:
        elements: element symbols.

    Returns:
        ``{symbol: total bound scattering cross section (barn) / atomic mass (u)}``.
    """
    import periodictable

    weights = {}
    for symbol in elements:
        element = getattr(periodictable, str(symbol), None)
        sigma = getattr(getattr(element, "neutron", None), "total", None)
        if element is None or sigma is None or not np.isfinite(sigma):
            raise InputError(str(symbol), "no tabulated neutron scattering cross section")
        weights[str(symbol)] = float(sigma) / float(element.mass)
    return weights


def neutron_weighted_dos(partial_dos: Mapping[str, np.ndarray]) -> np.ndarray:
    """The neutron-weighted DOS ``sum_el (sigma_el / M_el) partial_dos[el]``.

    Args:
        partial_dos: element symbol -> (n,) partial DOS of all atoms of that element (they add up to the
            total DOS, as ``PhononDosPrediction.partial_dos`` does).

    Returns:
        (n,) weighted DOS, in the partial DOS's unit times barn/u (normalise it before comparing).
    """
    if not partial_dos:
        raise InputError(None, "neutron weighting needs per-element partial DOS")
    weights = neutron_weights(partial_dos)
    return sum(weights[el] * np.asarray(dos, float) for el, dos in partial_dos.items())


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


@dataclass
class PowderMap:
    """A powder-averaged S(|Q|, E) map.

    Attributes:
        q_inv_ang: (n_q,) |Q| bin centres in 1/Å.
        energy_mev: (n_e,) energy-transfer bin centres in meV (negative: neutron energy gain).
        intensity: (n_q, n_e) S(|Q|, E), Euphonic's units (mbarn/sr/meV per atom); NaN where masked.
        temperature_k: temperature of the Debye-Waller and Bose factors.
        details: how it was made (sampling, resolution, kinematics, phonon order and term shares), JSON-ready.
        terms: (N, n_q, n_e) the n-phonon parts before resolution and mask, n = 1..N (row 0: coherent +
            incoherent one-phonon); ``intensity`` is their sum until a resolution is applied. None: unknown.
        one_phonon: (n_q, n_e) the one-phonon part of ``intensity``, with the same resolution and mask.
    """

    q_inv_ang: np.ndarray
    energy_mev: np.ndarray
    intensity: np.ndarray
    temperature_k: float
    details: dict = field(default_factory=dict)
    terms: np.ndarray | None = None
    one_phonon: np.ndarray | None = None

    def q_integrated(self, values: np.ndarray | None = None) -> np.ndarray:
        """(n_e,) the 1-D cut a user reads first: ``values`` (default ``intensity``) summed over |Q| where
        finite (the kinematic region), times the |Q| step: mbarn/meV per atom times 1/Å."""
        values = self.intensity if values is None else values
        step = float(np.median(np.diff(self.q_inv_ang))) if len(self.q_inv_ang) > 1 else 1.0
        return np.nansum(values, axis=0) * step

    @property
    def phonon_order(self) -> int:
        return 1 if self.terms is None else len(self.terms)

    def order_details(self, mask: np.ndarray | None = None) -> dict:
        """``phonon_order`` and ``term_shares`` (each n-phonon term's share of the summed intensity where
        ``mask`` is true; default everywhere), JSON-ready."""
        terms = self.terms if self.terms is not None else self.intensity[None]
        inside = np.ones(self.intensity.shape, bool) if mask is None else np.asarray(mask, bool)
        sums = np.array([float(np.sum(np.where(inside, term, 0.0))) for term in terms])
        shares = sums / sums.sum() if sums.sum() > 0 else np.zeros_like(sums)
        return {"phonon_order": int(len(terms)), "term_shares": [round(float(x), 6) for x in shares]}

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {"q_inv_ang": self.q_inv_ang, "energy_mev": self.energy_mev, "sqe": self.intensity,
                  "q_integrated": self.q_integrated()}
        if self.one_phonon is not None:
            arrays["one_phonon"] = self.one_phonon
        if "term_shares" in self.details:
            arrays["term_shares"] = np.asarray(self.details["term_shares"], float)
        return arrays


def _edges(centres: np.ndarray) -> np.ndarray:
    centres = np.asarray(centres, float)
    if len(centres) < 2:
        raise InputError("grid", "needs at least two points")
    mid = 0.5 * (centres[1:] + centres[:-1])
    return np.concatenate([[2 * centres[0] - mid[0]], mid, [2 * centres[-1] - mid[-1]]])


def _scaled_modes(modes, energy_scale: float):
    """``modes`` with every frequency times ``energy_scale`` and the same eigenvectors: the phonons of the force
    constants times ``energy_scale``^2 (a uniformly stiffer or softer crystal). ``energy_scale`` 1: ``modes``."""
    if energy_scale == 1:
        return modes
    from euphonic import QpointPhononModes

    return QpointPhononModes(modes.crystal, modes.qpts, modes.frequencies * float(energy_scale), modes.eigenvectors,
                             modes.weights)


def _band_top_mev(modes, widths, energy_scale: float = 1.0) -> float:
    """Highest mode plus the broadening Euphonic's adaptive widths give it, + 1 meV, of the unscaled ``modes``
    and ``widths``; times ``energy_scale``, margin included, so that the self terms' DOS bins scale with the
    energies and a rescaled DOS falls on the unscaled bins (below 100 meV, where the bins are top / 400)."""
    top = float(np.max(modes.frequencies.to("meV").magnitude)) + 3.0 * float(np.max(widths.to("meV").magnitude)) + 1.0
    return top if energy_scale == 1 else float(energy_scale) * top


def _self_terms(unscaled_modes, unscaled_widths, q_inv_ang: np.ndarray, energy_mev: np.ndarray,
                temperature_k: float, order, energy_scale: float = 1.0, reference_pdos=None
                ) -> tuple[np.ndarray, int, dict]:
    """The self (incoherent-approximation) terms of a powder map from the same mesh modes as the coherent
    one-phonon part (:func:`equispec.physics.multiphonon.self_terms`): (N, n_q, n_e), N and the details.

    Each atom's phonon expansion takes its unit-area partial DOS over the whole band from Euphonic (adaptive
    widths), whatever the map's window, and the mean-square displacement of that same DOS, so that the self
    term keeps both of its sum rules: unit weight over all orders, and the first moment at the recoil energy.
    (Euphonic's own Debye-Waller exponent, which the coherent part uses, sums the mesh modes directly; the two
    differed by 5-8 % for Al and V on SevenNet-l3i5, and ``details`` records both.) ``order``: ``auto`` or N.

    With ``energy_scale`` s != 1 the modes are s times stiffer, widths included, so each partial DOS is
    g_s(E) = g(E / s) / s: ``reference_pdos() -> (centres_mev, (n_atoms, n) pdos)`` at s = 1, rescaled here
    instead of re-broadening every mesh mode (Euphonic's adaptive broadening is most of a map's time; the
    bins scale with s, so the rescaled values are the unscaled bins' values). Bose factors, mean-square
    displacements and the orders are then recomputed from g_s.
    """
    import periodictable
    from euphonic import ureg

    from .multiphonon import self_terms

    crystal = unscaled_modes.crystal
    symbols = [str(symbol) for symbol in crystal.atom_type]
    neutron = [getattr(periodictable, el).neutron for el in symbols]
    band_top = _band_top_mev(unscaled_modes, unscaled_widths, energy_scale)

    def atom_pdos(edges_mev):
        if energy_scale == 1:
            return unscaled_modes.calculate_pdos(ureg.Quantity(edges_mev, "meV"),
                                                 mode_widths=unscaled_widths).y_data.to("1/meV").magnitude
        centres, pdos = reference_pdos()
        inside = 0.5 * (edges_mev[1:] + edges_mev[:-1]) / energy_scale
        return np.stack([np.interp(inside, centres, row, right=0.0) for row in pdos]) / energy_scale

    terms, order, msd_per_atom = self_terms(
        atom_pdos, band_top, crystal.atom_mass.to("amu").magnitude,
        [1000.0 * float(n.incoherent or 0.0) for n in neutron], [1000.0 * float(n.total or 0.0) for n in neutron],
        q_inv_ang, energy_mev, temperature_k, order)
    msd = {}
    for symbol, value in zip(symbols, msd_per_atom):
        msd.setdefault(symbol, []).append(value)
    return terms, order, {"msd_ang2": {el: float(np.mean(v)) for el, v in msd.items()}}


class PowderModes:
    """The phonon modes behind a powder map, computed once: each |Q| sphere's modes and the Debye-Waller mesh
    modes with their adaptive widths. A map at any temperature, energy grid and energy scale is built from
    them (:meth:`powder_map`) without diagonalising again, which is what makes fitting a stiffness factor
    affordable: the diagonalisations are most of the cost and do not depend on it.

    Build it with :func:`powder_modes`. Attributes: ``q_inv_ang`` (n_q,), ``sphere_modes`` (one
    ``euphonic.QpointPhononModes`` per |Q|, None at |Q| <= 0), ``mesh_modes`` and ``mesh_widths``, ``details``.
    """

    def __init__(self, q_inv_ang, sphere_modes, mesh_modes, mesh_widths, details: dict):
        self.q_inv_ang = np.asarray(q_inv_ang, float)
        self.sphere_modes = sphere_modes
        self.mesh_modes = mesh_modes
        self.mesh_widths = mesh_widths
        self.details = details
        self._reference_pdos = None

    def _pdos_at_unit_scale(self) -> tuple[np.ndarray, np.ndarray]:
        """Each atom's partial DOS at energy scale 1 on the bins the self terms use there (cached)."""
        if self._reference_pdos is None:
            from euphonic import ureg

            from .multiphonon import self_term_edges

            edges = self_term_edges(_band_top_mev(self.mesh_modes, self.mesh_widths))
            pdos = self.mesh_modes.calculate_pdos(ureg.Quantity(edges, "meV"), mode_widths=self.mesh_widths)
            self._reference_pdos = (0.5 * (edges[1:] + edges[:-1]), pdos.y_data.to("1/meV").magnitude)
        return self._reference_pdos

    def powder_map(self, energy_mev: np.ndarray, temperature_k: float = 300.0, incoherent: bool = True,
                   phonon_order="auto", energy_scale: float = 1.0) -> PowderMap:
        """The powder map on ``energy_mev`` bin centres (see :func:`powder_map`), with every phonon energy times
        ``energy_scale`` s: the force constants times s^2, eigenvectors unchanged. The Bose factors, the 1/omega
        of the structure factor, the Debye-Waller factors, the self terms' partial DOS (g(E / s) / s) and
        mean-square displacements all follow from the scaled modes; s = 1 is the unscaled map, bit for bit."""
        from euphonic import ureg

        if temperature_k <= 0:
            raise InputError("temperature", f"must be above 0 K (got {temperature_k})")
        if not 0 < energy_scale < np.inf:
            raise InputError("energy scale", f"must be a positive number (got {energy_scale!r})")
        temperature = ureg.Quantity(float(temperature_k), "K")
        dw_modes = _scaled_modes(self.mesh_modes, energy_scale)
        dw = dw_modes.calculate_debye_waller(temperature)
        edges = ureg.Quantity(_edges(energy_mev), "meV")
        rows = []
        for modes in self.sphere_modes:
            if modes is None:
                rows.append(np.zeros(len(energy_mev)))
                continue
            # what euphonic.powder.sample_sphere_structure_factor does with the sphere's modes
            structure_factor = _scaled_modes(modes, energy_scale).calculate_structure_factor(dw=dw)
            rows.append(structure_factor.calculate_1d_average(edges).y_data.to("mbarn/meV").magnitude)
        coherent = np.stack(rows)
        details = dict(self.details, incoherent=bool(incoherent))
        if energy_scale != 1:
            details["energy_scale"] = float(energy_scale)
        terms = coherent[None]
        if incoherent:
            self_terms, order, self_details = _self_terms(self.mesh_modes, self.mesh_widths, self.q_inv_ang,
                                                          energy_mev, float(temperature_k), phonon_order,
                                                          energy_scale, self._pdos_at_unit_scale)
            euphonic_msd = np.trace(dw.debye_waller.to("angstrom**2").magnitude, axis1=1, axis2=2) * 2.0 / 3.0
            types = np.array([str(t) for t in dw_modes.crystal.atom_type])
            details.update(self_details, euphonic_msd_ang2={el: float(euphonic_msd[types == el].mean())
                                                            for el in self_details["msd_ang2"]})
            terms = np.concatenate([[coherent + self_terms[0]], self_terms[1:]])
            one_total = float(np.sum(terms[0]))
            details["incoherent_share"] = float(np.sum(self_terms[0])) / one_total if one_total > 0 else 0.0
        powder = PowderMap(self.q_inv_ang.copy(), np.asarray(energy_mev, float), terms.sum(axis=0),
                           float(temperature_k), details, terms, terms[0].copy())
        powder.details.update(powder.order_details())
        return powder


def powder_modes(fc, q_inv_ang: np.ndarray, npts: int = 400, dw_spacing_inv_ang: float = 0.1, seed: int = 0,
                 progress: bool = False) -> PowderModes:
    """Diagonalise once for powder maps at the |Q| of ``q_inv_ang``: ``npts`` golden-spiral points on each
    |Q| sphere (jittered with ``seed``, drawn in order of |Q| as Euphonic's
    ``sample_sphere_structure_factor`` draws them, so the maps are the same) and a Monkhorst-Pack mesh of
    spacing ``dw_spacing_inv_ang`` for the Debye-Waller factor and the self terms."""
    from euphonic import ureg
    from euphonic.sampling import golden_sphere
    from tqdm.auto import tqdm

    mesh_modes, widths = _mesh_modes(fc, dw_spacing_inv_ang, mode_widths=True)
    rng = np.random.default_rng(seed)
    sphere = []
    for q in tqdm(np.asarray(q_inv_ang, float), desc="S(Q,E)", unit="|Q|", disable=not progress, leave=False):
        if q <= 0:
            sphere.append(None)
            continue
        cartesian = np.asarray(list(golden_sphere(npts, jitter=True, rng=rng))) * ureg.Quantity(q, "1/angstrom")
        fractional = np.linalg.solve(fc.crystal.reciprocal_cell.T, cartesian.T).T.to("dimensionless").magnitude
        sphere.append(fc.calculate_qpoint_phonon_modes(fractional, asr="reciprocal"))
    details = {"sampling": "golden", "npts": npts, "dw_spacing_inv_ang": dw_spacing_inv_ang, "seed": seed}
    return PowderModes(q_inv_ang, sphere, mesh_modes, widths, details)


def powder_map(fc, q_inv_ang: np.ndarray, energy_mev: np.ndarray, temperature_k: float = 300.0,
               npts: int = 400, dw_spacing_inv_ang: float = 0.1, seed: int = 0, incoherent: bool = True,
               phonon_order="auto", progress: bool = False) -> PowderMap:
    """Powder S(|Q|, E) on the given bin centres (no resolution; see ``broaden_map``).

    The coherent one-phonon part is Euphonic's: each |Q| a sphere of ``npts`` golden-spiral points (jittered
    with ``seed``), Debye-Waller factor from a mesh of spacing ``dw_spacing_inv_ang``, Bose factor n + 1 for
    energy loss (E > 0) and n for gain (E < 0), so that S(Q, -E) = exp(-E / k_B T) S(Q, E). With
    ``incoherent`` the incoherent one-phonon scattering is added in the incoherent approximation (it
    dominates for V and H, which scatter almost only incoherently), and the n-phonon terms n = 2..N
    (:mod:`equispec.physics.multiphonon`): ``phonon_order`` ``auto`` (each term kept adds at least 1 % of the
    total) or N (1: one-phonon only). ``terms`` keeps each term's map and ``details`` the order and shares.
    To evaluate several maps (temperatures, energy scales) from one diagonalisation, use :func:`powder_modes`.
    """
    if temperature_k <= 0:
        raise InputError("temperature", f"must be above 0 K (got {temperature_k})")
    modes = powder_modes(fc, q_inv_ang, npts=npts, dw_spacing_inv_ang=dw_spacing_inv_ang, seed=seed,
                         progress=progress)
    return modes.powder_map(energy_mev, temperature_k, incoherent=incoherent, phonon_order=phonon_order)


def kinematic_limits(energy_mev: np.ndarray, ei_mev: float, angles_deg=DEFAULT_ANGLES_DEG
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(|Q|_min, |Q|_max) in 1/Å reachable at energy transfer E on a direct-geometry spectrometer.

    With k_i = sqrt(Ei / c) and k_f = sqrt((Ei - E) / c), c = hbar^2 / 2m_n:
    Q^2 = k_i^2 + k_f^2 - 2 k_i k_f cos(2 theta) over the detector's scattering angles 2 theta.
    Energies above Ei are unreachable (NaN limits).
    """
    energy = np.asarray(energy_mev, float)
    if not ei_mev > 0:
        raise InputError("--ei", f"incident energy must be above 0 meV (got {ei_mev})")
    low, high = (np.radians(float(a)) for a in angles_deg)
    if not 0 <= low < high <= np.pi:
        raise InputError("angles", f"need 0 <= min < max <= 180 degrees (got {angles_deg})")
    ki = np.sqrt(ei_mev / NEUTRON_MEV_ANG2)
    with np.errstate(invalid="ignore"):
        kf = np.sqrt((ei_mev - energy) / NEUTRON_MEV_ANG2)
        q = lambda angle: np.sqrt(ki**2 + kf**2 - 2 * ki * kf * np.cos(angle))
        return q(low), q(high)


def kinematic_mask(q_inv_ang: np.ndarray, energy_mev: np.ndarray, ei_mev: float, angles_deg=DEFAULT_ANGLES_DEG
                   ) -> np.ndarray:
    """(n_q, n_e) True where the spectrometer measures (|Q|, E)."""
    q_min, q_max = kinematic_limits(energy_mev, ei_mev, angles_deg)
    q = np.asarray(q_inv_ang, float)[:, None]
    with np.errstate(invalid="ignore"):
        return (q >= q_min[None, :]) & (q <= q_max[None, :])


def instrument_resolution(name: str, ei_mev: float, **settings):
    """Energy-resolution FWHM(E) in meV of a named spectrometer at incident energy ``ei_mev``, from
    ``resins`` (its default model and configuration unless ``settings`` choose, e.g. ``chopper_frequency``).

    Returns:
        A callable ``fwhm(energy_mev) -> ndarray``.
    """
    try:
        from resins import Instrument
    except ImportError:
        raise ModelError("resins", "named instruments need resins: pip install 'equispec[neutron]'") from None
    known = Instrument.available_instruments()
    match = {k.lower(): k for k in known}.get(str(name).lower())
    if match is None:
        raise InputError(str(name), f"unknown instrument (known: {', '.join(known)})")
    try:
        model = Instrument.from_default(match).get_resolution_function(e_init=float(ei_mev), **settings)
    except Exception as exc:  # resins raises its own types for out-of-range settings
        raise InputError(str(name), f"resolution model refused the settings: {exc}") from None
    fwhm_per_sigma = 2.0 * np.sqrt(2.0 * np.log(2.0))

    def fwhm(energy_mev):
        energy = np.atleast_1d(np.asarray(energy_mev, float))
        inside = np.clip(energy, 0.0, 0.95 * ei_mev)  # the models are fits over 0 <= E < Ei
        return fwhm_per_sigma * np.asarray(model.get_characteristics(inside[:, None])["sigma"], float)

    fwhm.description = f"{match} ({type(model).__name__}), Ei = {ei_mev:g} meV"
    return fwhm


def broaden_map(energy_mev: np.ndarray, intensity: np.ndarray, resolution) -> np.ndarray:
    """Gaussian energy resolution applied to each |Q| row of a map (area of each row kept).

    Args:
        energy_mev: (n_e,) uniform energies.
        intensity: (n_q, n_e) map.
        resolution: as ``equispec.broadening.resolution_fwhm`` (number, polynomial, callable).
    """
    from ..broadening import gaussian_broaden, resolution_fwhm

    fwhm = resolution_fwhm(resolution)
    if not callable(fwhm) and fwhm == 0:
        return np.asarray(intensity, float).copy()
    if callable(fwhm):  # resolution is set by |E|: the same instrument width on both sides of the elastic line
        width = fwhm
        fwhm = lambda e: width(np.abs(e))
    return gaussian_broaden(energy_mev, np.asarray(intensity, float), fwhm)


@dataclass
class InsSpectra:
    """What an inelastic-neutron-scattering experiment on a powder would see of one prediction.

    Attributes:
        name: the prediction.
        energy_mev: (n,) energies of the DOS in meV.
        dos: (n,) phonon DOS, states per meV per cell (physics modes) or max-normalised (fast mode).
        neutron_dos: (n,) neutron-weighted DOS normalised to unit area, with the resolution applied.
        powder: the powder S(|Q|, E) map (kinematic mask and resolution applied), or None (fast mode).
        ei_mev, temperature_k: the experiment; ``ei_mev`` None means no kinematic limit.
        details: resolution and method, JSON-ready.
    """

    name: str
    energy_mev: np.ndarray
    dos: np.ndarray
    neutron_dos: np.ndarray
    powder: PowderMap | None
    ei_mev: float | None
    temperature_k: float
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        record = {"name": self.name, "energy_mev": self.energy_mev.tolist(), "dos": self.dos.tolist(),
                  "neutron_dos": self.neutron_dos.tolist(), "ei_mev": self.ei_mev,
                  "temperature_k": self.temperature_k, "details": self.details}
        if self.powder is not None:
            record["sqe"] = {"q_inv_ang": self.powder.q_inv_ang.tolist(), "energy_mev": self.powder.energy_mev.tolist(),
                             "intensity": [[None if not np.isfinite(v) else float(v) for v in row]
                                           for row in self.powder.intensity],
                             "q_integrated": self.powder.q_integrated().tolist(),
                             "phonon_order": self.powder.phonon_order,
                             "term_shares": self.powder.details.get("term_shares"),
                             "details": self.powder.details}
        return record

    def summary_line(self) -> str:
        """What was applied, in one line: resolution, Ei, temperature and, with a map, its phonon terms."""
        resolution = self.details.get("resolution_fwhm_mev")
        line = (f"{self.name}: neutron spectra at resolution {resolution if resolution is not None else 'none (native)'}"
                f", kinematic range of Ei {f'{self.ei_mev:g} meV' if self.ei_mev is not None else 'none (no mask)'}, "
                f"T {self.temperature_k:g} K")
        if self.powder is not None:
            shares = ", ".join(f"{x:.3f}" for x in self.powder.details.get("term_shares", [1.0]))
            line += f"; S(Q,E) {self.powder.phonon_order}-phonon (term shares {shares})"
        return line

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {"energy_mev": self.energy_mev, "dos": self.dos, "neutron_dos": self.neutron_dos}
        if self.powder is not None:
            arrays.update({f"sqe_{k}" if k != "sqe" else "sqe": v for k, v in self.powder.to_arrays().items()})
        return arrays


def _resolution_of(resolution, ei_mev):
    """A resolution setting, with instrument names (``"ARCS"``) resolved through ``resins`` at ``ei_mev``."""
    if isinstance(resolution, str):
        if ei_mev is None:
            raise InputError(resolution, "a named instrument's resolution needs the incident energy (--ei)")
        return instrument_resolution(resolution, ei_mev)
    return resolution


def _describe(resolution) -> object:
    if resolution is None:
        return None
    return getattr(resolution, "description", "callable") if callable(resolution) else resolution


#: Most energy bins of a predicted map (its step grows beyond 0.25 meV for wide ranges).
MAP_ENERGY_BINS = 500


def map_energies(ei_mev: float | None, top_mev: float, gain_side: bool = False, step_mev: float = 0.25) -> np.ndarray:
    """Energy-transfer bin centres of a predicted map: with ``ei_mev``, what a direct-geometry spectrometer
    at that incident energy covers, -Ei/2 .. 0.95 Ei; without, the whole band up to ``top_mev`` (from
    -``top_mev`` with ``gain_side``, else from 0). Steps of ``step_mev``, wider where more than
    ``MAP_ENERGY_BINS`` would be needed."""
    low, high = (-0.5 * ei_mev, 0.95 * ei_mev) if ei_mev is not None else (-top_mev if gain_side else 0.0, top_mev)
    return np.arange(low, high, max(step_mev, (high - low) / MAP_ENERGY_BINS))


def ins_spectra(prediction, ei_mev: float | None = None, temperature_k: float = 300.0, resolution=None,
                angles_deg=DEFAULT_ANGLES_DEG, q_step_inv_ang: float = 0.1, energy_step_mev: float = 0.25,
                npts: int = 200, phonon_order="auto", progress: bool = False) -> InsSpectra:
    """Neutron-weighted DOS and, with force constants, the powder S(|Q|, E) of a phonon prediction.

    Args:
        prediction: a ``PhononDosPrediction``. With ``force_constants`` (physics/hybrid modes) everything
            comes from Euphonic on the full energy range; without (fast mode) the neutron-weighted DOS is
            ``sum_el sigma_el / M_el g_el`` of the network's partial DOS on its 51-bin grid.
        ei_mev: incident energy of a direct-geometry spectrometer: the map covers -Ei/2 .. 0.95 Ei and is
            NaN outside the detector's kinematic range ``angles_deg``. None: 0 .. 1.05 x the highest mode,
            |Q| up to 12 1/Å, no mask. The DOS has ``energy_step_mev`` steps; the map at most
            ``MAP_ENERGY_BINS`` energies and ``q_step_inv_ang`` steps in |Q|.
        temperature_k: Debye-Waller and Bose factors.
        resolution: Gaussian energy FWHM in meV (number, polynomial coefficients, callable) or an
            instrument name known to ``resins`` (needs ``ei_mev``); None: native resolution.
        phonon_order: the map's n-phonon terms, ``auto`` or the highest n (1: one-phonon only).
    """
    from ..broadening import broaden_dos

    resolution = _resolution_of(resolution, ei_mev)
    details = {"resolution_fwhm_mev": _describe(resolution), "angles_deg": list(angles_deg)}
    if prediction.force_constants is None:
        from ..io.units import CM1_PER_MEV

        energy = np.asarray(prediction.freq_cm1, float) / CM1_PER_MEV
        partial = prediction.partial_dos or {}
        weighted = neutron_weighted_dos(partial) if partial else np.asarray(prediction.dos, float)
        grid, broadened = broaden_dos(energy, weighted, resolution)
        broadened = np.interp(energy, grid, broadened)
        details["method"] = "network partial DOS x sigma/M (incoherent approximation), 51-bin label grid"
        return InsSpectra(prediction.name, energy, np.asarray(prediction.dos, float),
                          _unit_area(energy, broadened), None, ei_mev, float(temperature_k), details)

    with quiet_euphonic():
        fc = euphonic_force_constants(prediction.force_constants)
        full = prediction.full_range
        top = float(full.energy_mev[-1])
        edges = np.arange(0.0, top + energy_step_mev, energy_step_mev)
        centres = 0.5 * (edges[1:] + edges[:-1])
        dos = np.interp(centres, full.energy_mev, full.dos)
        weighted = euphonic_neutron_dos(fc, edges)
        if resolution is not None:
            weighted = broaden_map(centres, weighted[None, :], resolution)[0]
        energy_map = map_energies(ei_mev, top, step_mev=energy_step_mev)
        q_top = float(np.nanmax(kinematic_limits(energy_map, ei_mev, angles_deg)[1])) if ei_mev is not None else 12.0
        q = np.arange(0.5 * q_step_inv_ang, q_top, q_step_inv_ang)
        powder = powder_map(fc, q, energy_map, temperature_k, npts=npts, phonon_order=phonon_order,
                            progress=progress)
    if resolution is not None:
        powder.intensity = broaden_map(powder.energy_mev, powder.intensity, resolution)
        powder.one_phonon = broaden_map(powder.energy_mev, powder.one_phonon, resolution)
    if ei_mev is not None:
        mask = kinematic_mask(q, energy_map, ei_mev, angles_deg)
        powder.intensity = np.where(mask, powder.intensity, np.nan)
        powder.one_phonon = np.where(mask, powder.one_phonon, np.nan)
        powder.details["ei_mev"] = ei_mev
        powder.details.update(powder.order_details(mask))  # the shares of what the spectrometer sees
    details["method"] = "Euphonic from the force constants (coherent + incoherent cross-sections, Sears 1992)"
    return InsSpectra(prediction.name, centres, dos, _unit_area(centres, weighted), powder, ei_mev,
                      float(temperature_k), details)


def _unit_area(energy: np.ndarray, values: np.ndarray) -> np.ndarray:
    area = float(np.trapezoid(values, energy))
    return values / area if area > 0 else values
