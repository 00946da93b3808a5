"""Neutron scattering weights of a phonon DOS (incoherent approximation: sigma_scatt / M per element) and
the one chain that turns a predicted DOS into what an INS measurement of it reads: weighted, broadened by
the instrument resolution, at unit area. ``ins_spectra`` (label-grid DOS) and the measured-DOS comparison of
``equispec.analysis`` both go through :func:`ins_dos`, so that the two cannot drift apart."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from ...errors import InputError


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


class InsDos(NamedTuple):
    """A DOS as an INS measurement reads it (see :func:`ins_dos`).

    Attributes:
        values: on the energies asked for (those inside ``span_mev`` with ``within_span``), at unit area
            there; left as they are where that area is not positive.
        area: their area before the scaling; not positive: no weight on those energies.
        inside: bool over the energies asked for: within ``span_mev``.
        span_mev: (first, last) energy of the broadened DOS, which is zero outside.
    """

    values: np.ndarray
    area: float
    inside: np.ndarray
    span_mev: tuple[float, float]


def ins_dos(energy_mev: np.ndarray, dos: np.ndarray | None, resolution=None, on_mev: np.ndarray | None = None, *,
            partial_dos: Mapping[str, np.ndarray] | None = None, energy_scale: float = 1.0,
            full_range_to_mev: float | None = None, within_span: bool = False) -> InsDos:
    """Weight -> broaden -> unit area: a predicted DOS as a spectrometer measures it.

    Args:
        energy_mev: (n,) increasing energies of the DOS in meV.
        dos: (n,) DOS, used as it is when there is no ``partial_dos``.
        resolution: Gaussian FWHM as ``equispec.broadening.resolution_fwhm`` takes it (number, polynomial
            coefficients, callable); None: none.
        on_mev: energies of the result; default the DOS's own (``energy_mev`` times ``energy_scale``).
        partial_dos: element -> (n,) partial DOS: neutron-weighted (:func:`neutron_weighted_dos`) in place
            of ``dos``. None or empty: ``dos`` unweighted.
        energy_scale: stiffness factor s on the energies, g_s(E) = g(E / s) / s, applied before the resolution.
        full_range_to_mev: the DOS covers the whole band (it vanishes above its last energy, on steps fine
            enough to broaden on): extended by zeros up to this energy and broadened on its own step. None:
            broadened on a fifth of its smallest step, within its own range.
        within_span: keep only the energies of ``on_mev`` inside the broadened DOS's span (a comparison on
            the energies both cover); else the DOS is zero outside it.
    """
    from ...broadening import broaden_dos

    energy = np.asarray(energy_mev, float)
    values = neutron_weighted_dos(partial_dos) if partial_dos else np.asarray(dos, float)
    if energy_scale != 1:
        energy, values = energy * energy_scale, values / energy_scale
    on = energy if on_mev is None else np.asarray(on_mev, float)
    step = None
    if full_range_to_mev is not None:
        step = float(energy[1] - energy[0])
        if full_range_to_mev > energy[-1]:
            extra = np.arange(energy[-1] + step, full_range_to_mev + 2 * step, step)
            energy, values = np.concatenate([energy, extra]), np.concatenate([values, np.zeros(len(extra))])
    grid, broadened = broaden_dos(energy, values, resolution, step=step)
    inside = (on >= grid[0]) & (on <= grid[-1])
    if within_span:
        on = on[inside]
    values, area = _unit_area(on, np.interp(on, grid, broadened, left=0.0, right=0.0))
    return InsDos(values, area, inside, (float(grid[0]), float(grid[-1])))


def _unit_area(energy: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, float]:
    """``values`` over their trapezoid area on ``energy``, and that area; unscaled where it is not positive."""
    area = float(np.trapezoid(values, energy))
    return (values / area if area > 0 else values), area
