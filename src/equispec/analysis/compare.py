"""Score a prediction already made against a measurement already read (``compare_spectra``); predicting and
reading files is the caller's (``equispec.workflows.compare`` and ``identify``).

A prediction comes in as pymatgen objects: an XAS prediction has ``.average`` (a pymatgen ``XAS``), a
phonon prediction has ``.freq_cm1``, ``.dos`` and per-element ``.partial_dos`` (``PhononDosPrediction``);
a bare ``XAS`` or ``PhononDos`` works too. Both spectra are processed as an instrument sees them and
scored on one grid in the measurement's energy scale:

- XAS: the measurement is normalised to unit edge step (pre/post-edge lines, E0 at max dmu/dE); the
  prediction is divided by its own edge step when it states one (``edge_step``), else scaled to the
  measurement's area; it can be broadened by a core-hole width (Lorentzian; off by default, as FEFF
  spectra include it) and an experimental resolution (Gaussian), and is shifted rigidly in energy (FEFF
  energies are not calibrated to experiment). A comparison fits that shift; ``workflows.identify`` uses ONE
  shift for all candidates (given, calibrated on a standard, or fitted to all together), so that chemical
  shifts between candidates stay in the comparison. The whole predicted range that the measurement
  covers is compared unless ``window_ev`` asks for a window from the onset.
- Phonon DOS: the prediction is converted to meV, neutron-weighted (``sigma_scatt/M`` per element on the
  per-element partial DOS), broadened by the instrument resolution and scaled to the measurement's area
  on their common energy range.
"""

from __future__ import annotations

from ..errors import InputError
from .comparison import Comparison, is_xas
from .phonon_compare import compare_phdos
from .readers import MeasuredDos, MeasuredXas
from .xas_compare import compare_xas

__all__ = ["SQE_OPTIONS", "compare_spectra", "refuse_inapplicable"]


def compare_spectra(prediction, measured, **options) -> Comparison:
    """Dispatch on the prediction's kind: XAS (has ``.average`` or is an ``XAS``) or phonon DOS."""
    if is_xas(prediction):
        refuse_inapplicable(options, "xas")
        if not isinstance(measured, MeasuredXas):
            raise InputError(getattr(measured, "name", None), "an XAS prediction needs a measured XAS spectrum")
        return compare_xas(prediction, measured, **_read_by(options, _XAS_OPTIONS))
    refuse_inapplicable(options, "phdos")
    if not isinstance(measured, MeasuredDos):
        raise InputError(getattr(measured, "name", None), "a phonon-DOS prediction needs a measured phonon DOS")
    return compare_phdos(prediction, measured, **_read_by(options, _DOS_OPTIONS))


def _read_by(options: dict, table: dict) -> dict:
    """The options a comparison function takes: those of its table, and the prediction's ``name``."""
    return {key: value for key, value in options.items() if key in table or key == "name"}


#: What each kind of comparison reads, and the value of each option that changes nothing (the default).
_XAS_OPTIONS = {"window_ev": None, "core_hole_ev": 0.0, "resolution_ev": 0.0, "max_shift_ev": 20.0,
                "shift_ev": None, "step_ev": 0.1}
_DOS_OPTIONS = {"resolution_mev": None, "neutron_weighting": True, "fit_energy_scale": False}
SQE_OPTIONS = {"resolution_mev": None, "fit_energy_scale": False, "temperature_k": None, "ei_mev": None,
               "elastic_mev": None, "phonon_order": "auto", "npts": None, "progress": False}
_OPTIONS = {"xas": _XAS_OPTIONS, "phdos": _DOS_OPTIONS, "sqe": SQE_OPTIONS}
#: Who reads an option -> how the refusal names them.
_READERS = {("xas",): "XAS comparisons", ("phdos",): "phonon comparisons (a DOS table)",
            ("sqe",): "a measured S(Q,E) map (.npz)", ("phdos", "sqe"): "phonon comparisons (a DOS table or an S(Q,E) map)"}


def refuse_inapplicable(options: dict, kind: str) -> None:
    """Raise ``InputError(--option, ...)`` for an option set away from its default that a comparison of
    ``kind`` (``xas``, ``phdos`` or ``sqe``) does not read: silently dropping it would let the user believe it
    was applied."""
    known = _OPTIONS[kind]
    for key, value in options.items():
        if key in known or key == "name":
            continue
        owners = tuple(k for k, table in _OPTIONS.items() if key in table and value != table[key])
        if owners:
            raise InputError("--" + key.replace("_", "-"), f"is for {_READERS[owners]}")
