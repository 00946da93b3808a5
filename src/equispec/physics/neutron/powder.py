"""Powder-averaged S(|Q|, E) maps from Euphonic: the coherent one-phonon part on golden-spiral |Q| spheres, the
incoherent and n-phonon self terms (:mod:`equispec.physics.multiphonon`), and the diagonalised modes kept
for maps at other temperatures or energy scales (:class:`PowderModes`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import InputError
from .euphonic_engine import _mesh_modes


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

    from ..multiphonon import self_terms

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

            from ..multiphonon import self_term_edges

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
