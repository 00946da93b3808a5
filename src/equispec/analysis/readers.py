"""Readers for measured spectra: XDI and two-column XAS text, and measured phonon DOS tables.

No maintained light library reads XDI (``xdi-pandas`` is unmaintained since 2018, xraylarch is a large
application), and the formats are simple, so the readers live here and are tested on the files in
``../shared/data/measured/``. Every problem is an :class:`~equispec.errors.InputError` naming the file.
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.files import read_text
from ..io.units import CM1_PER_MEV, MEV_PER_THZ

__all__ = ["MeasuredXas", "MeasuredDos", "MeasuredSqe", "read_xdi", "read_xas_text", "read_measured_xas", "read_measured_dos", "read_measured_sqe", "is_sqe_file",
           "DOS_UNITS"]

#: Energy units a measured phonon DOS table may use -> factor to meV.
DOS_UNITS = {"meV": 1.0, "THz": MEV_PER_THZ, "cm-1": 1.0 / CM1_PER_MEV}

_MIN_POINTS = 5
#: Where measured spectra can lie; outside, a number is broken (a lost decimal point, a unit mix-up), and
#: the resampling grids built over the measured range would not fit in memory.
XAS_ENERGY_RANGE_EV = (100.0, 2.0e5)
PHONON_MAX_MEV = 2000.0
#: Larger intensities are a broken number; their squares overflow the scores.
MAX_MEASURED_VALUE = 1e30
SQE_MAX_Q_INV_ANG = 100.0


@dataclass
class MeasuredXas:
    """A measured absorption spectrum.

    Attributes:
        name: where it came from (file path).
        energy_ev: (n,) increasing photon energies in eV.
        mu: (n,) absorption (raw or normalised, as in the file).
        element: absorbing element symbol, if the file says.
        edge: absorption edge (``K``, ``L3``...), if the file says.
        source_column: which column(s) ``mu`` was made from (``ln(i0/itrans)``, ``mutrans``, ...).
        metadata: header fields (XDI ``Family.key``: value).
    """

    name: str
    energy_ev: np.ndarray
    mu: np.ndarray
    element: str | None = None
    edge: str | None = None
    source_column: str = "mu"
    metadata: dict = field(default_factory=dict)


@dataclass
class MeasuredDos:
    """A measured (neutron-weighted) phonon DOS.

    Attributes:
        name: file path.
        energy_mev: (n,) increasing energies in meV (converted from the file's unit).
        dos: (n,) density, in the file's normalisation converted to per meV.
        error: (n,) uncertainty in the same unit as ``dos`` if the file has a third column, else None.
        unit: the energy unit of the file (a key of ``DOS_UNITS``).
        note: what the reader changed (small negative values clipped to 0), for the user to see; else None.
    """

    name: str
    energy_mev: np.ndarray
    dos: np.ndarray
    error: np.ndarray | None = None
    unit: str = "meV"
    note: str | None = None


def _read_text(path: str | os.PathLike) -> tuple[str, list[str]]:
    name = str(path)
    text = read_text(path)
    if not text.strip():
        raise InputError(name, "file is empty")
    return name, text.splitlines()


def _parse_rows(name: str, lines: list[str], comment: str = "#") -> tuple[np.ndarray, list[str]]:
    """Numeric rows (whitespace or comma separated) and the non-numeric lines before the first row."""
    rows, header, width = [], [], None
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith(comment):
            if not rows:
                header.append(stripped)
            continue
        fields = re.split(r"[,\s;]+", stripped)
        try:
            values = [float(x) for x in fields]
        except ValueError:
            if rows:
                raise InputError(name, f"non-numeric data line: {stripped[:60]!r}") from None
            header.append(stripped)
            continue
        if width is None:
            width = len(values)
        elif len(values) != width:
            raise InputError(name, f"data row {len(rows) + 1} has {len(values)} columns, expected {width}")
        rows.append(values)
    if not rows:
        raise InputError(name, "no numeric data")
    data = np.asarray(rows, dtype=float)
    return data, header


def _sorted_unique(name: str, x: np.ndarray, *ys: np.ndarray, labels=("energy", "intensity", "error")
                   ) -> tuple[np.ndarray, ...]:
    """Sort by x and drop repeated x values (scans often repeat a point); check what is left. A column with
    no finite value at all is an error naming it (``labels``), not an empty spectrum."""
    for label, column in zip(labels, (x, *ys)):
        if not np.isfinite(column).any():
            raise InputError(name, f"{label} column has no finite values (all NaN, infinite or empty)")
    good = np.isfinite(x)
    for y in ys:
        good &= np.isfinite(y)
    x, ys = x[good], [y[good] for y in ys]
    for y in ys:
        if len(y) and np.abs(y).max() > MAX_MEASURED_VALUE:
            raise InputError(name, f"a value of {np.abs(y).max():.4g}: beyond any measured intensity "
                                   f"(at most {MAX_MEASURED_VALUE:g})")
    order = np.argsort(x, kind="stable")
    x, ys = x[order], [y[order] for y in ys]
    keep = np.concatenate([[True], np.diff(x) > 0])
    x, ys = x[keep], [y[keep] for y in ys]
    if len(x) < _MIN_POINTS:
        raise InputError(name, f"only {len(x)} usable data points (need at least {_MIN_POINTS})")
    return (x, *ys)


def read_xdi(path: str | os.PathLike) -> MeasuredXas:
    """Read an XDI 1.0 file (``# Family.key: value`` header, ``# Column.N: label [unit]``).

    ``mu`` is taken, in this order, from a ``mutrans``/``mu``/``mufluor`` column, from
    ``ln(i0/itrans)`` (transmission) or from ``ifluor/i0`` (fluorescence).
    """
    name, lines = _read_text(path)
    if not lines[0].lstrip("#").strip().upper().startswith("XDI"):
        raise InputError(name, "not an XDI file (first line must start with '# XDI/')")
    data, header = _parse_rows(name, lines)
    metadata, columns, declared = {}, {}, set()
    for line in header:
        match = re.match(r"#\s*([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\s*:\s*(.*)$", line)
        if not match:
            continue
        family, key, value = match.groups()
        metadata[f"{family}.{key}"] = value.strip()
        if family.lower() == "column" and key.isdigit() and value.strip():
            columns.setdefault(value.split()[0].lower(), int(key) - 1)
            declared.add(int(key) - 1)
    if declared and (len(declared) != data.shape[1] or max(declared) >= data.shape[1]):
        raise InputError(name, f"header names {len(declared)} columns ({', '.join(_by_index(columns))}), data rows "
                               f"have {data.shape[1]}")
    if not columns:  # no Column.N labels: the first is the energy (checked below), as XDI's convention has it
        columns = {"energy": 0}
    energy_index = _energy_column(name, columns, data, metadata)
    col = {label: data[:, index] for label, index in columns.items()}
    if "mutrans" in col or "mu" in col:
        label = "mutrans" if "mutrans" in col else "mu"
        mu = col[label]
    elif "mufluor" in col:
        label, mu = "mufluor", col["mufluor"]
    elif "itrans" in col and "i0" in col:
        label = "ln(i0/itrans)"
        with np.errstate(divide="ignore", invalid="ignore"):
            mu = np.log(col["i0"] / col["itrans"])
    elif "ifluor" in col and "i0" in col:
        label = "ifluor/i0"
        with np.errstate(divide="ignore", invalid="ignore"):
            mu = col["ifluor"] / col["i0"]
    else:
        raise InputError(name, f"no absorption columns (need mutrans, mufluor, i0+itrans or i0+ifluor; "
                               f"found {', '.join(sorted(col))})")
    energy = data[:, energy_index]
    energy, mu = _sorted_unique(name, energy, mu, labels=(_label_of(columns, energy_index), label))
    _check_xas_energies(name, energy)
    element = metadata.get("Element.symbol") or None
    edge = metadata.get("Element.edge") or None
    return MeasuredXas(name, energy, mu, element, edge, label, metadata)


#: XDI column labels that name the photon energy.
ENERGY_LABELS = ("energy", "e", "ev", "energy_ev", "en")
#: Labels that are intensities, never energies (XDI's defined names and common ones).
_NOT_ENERGY = re.compile(r"^(i0|itrans|ifluor|irefer|mu\w*|norm\w*|flat\w*|i\d|if|it|ir|k|chi\w*)$")
#: Rydberg energy: Moseley's law puts a K edge near 13.6 eV (Z - 1)^2 (within 20 % for Z 10-60).
_RYDBERG_EV = 13.6057


def _by_index(columns: dict) -> list[str]:
    return [label for label, _ in sorted(columns.items(), key=lambda item: item[1])]


def _label_of(columns: dict, index: int) -> str:
    return next((label for label, k in columns.items() if k == index), f"column {index + 1}")


def _plausible_energies(values: np.ndarray, metadata: dict) -> bool:
    """Monotonic, within X-ray absorption edges, and near the K edge of the file's element when it says."""
    finite = values[np.isfinite(values)]
    if len(finite) < _MIN_POINTS:
        return False
    steps = np.diff(finite)
    if not ((steps > 0).all() or (steps < 0).all()):
        return False
    low, high = XAS_ENERGY_RANGE_EV
    if finite.min() < low or finite.max() > high:
        return False
    symbol, edge = metadata.get("Element.symbol", ""), metadata.get("Element.edge", "")
    if edge.strip().upper() == "K" and symbol.strip():
        try:
            from pymatgen.core import Element

            k_edge = _RYDBERG_EV * (Element(symbol.strip().capitalize()).Z - 1) ** 2
        except ValueError:
            return True
        return 0.5 * k_edge <= np.median(finite) <= 2.0 * k_edge
    return True


def _energy_column(name: str, columns: dict, data: np.ndarray, metadata: dict) -> int:
    """The index of the photon-energy column: named ``energy`` (``ENERGY_LABELS``), else the one column not
    named as an intensity whose values are monotonic in a plausible eV range. None found is an error naming
    the columns, never column 0 taken on trust."""
    named = [columns[label] for label in ENERGY_LABELS if label in columns]
    if named:
        index = named[0]
    else:
        candidates = [k for label, k in columns.items() if not _NOT_ENERGY.match(label)
                      and _plausible_energies(data[:, k], metadata)]
        if len(candidates) != 1:
            seen = ", ".join(_by_index(columns))
            raise InputError(name, (f"no energy column (columns: {seen}); name it energy in the header"
                                    if not candidates else f"{len(candidates)} columns could be the energy ({seen}); "
                                    "name it energy in the header"))
        index = candidates[0]
    return index


def _check_xas_energies(name: str, energy: np.ndarray) -> None:
    low, high = XAS_ENERGY_RANGE_EV
    if energy[0] < low or energy[-1] > high:
        raise InputError(name, f"energies run from {energy[0]:.6g} to {energy[-1]:.6g} eV, outside the "
                               f"{low:g} eV-{high / 1000:g} keV of X-ray absorption edges")


_ATOM = re.compile(r"(?:#%atom:|element:)\s*([A-Z][a-z]?)\b")
_EDGE = re.compile(r"(?:#%edge:|edge:)\s*([KLM][123]?)\b")


def read_xas_text(path: str | os.PathLike) -> MeasuredXas:
    """Read a text table whose first two numeric columns are energy (eV) and mu.

    Header lines may start with ``#`` or be free text before the numbers (SSHADE files); the absorbing
    element and edge are taken from ``#%atom:``/``#%edge:`` (Athena ``.xmu``) or ``element:``/``edge:``
    when present.
    """
    name, lines = _read_text(path)
    data, header = _parse_rows(name, lines)
    if data.shape[1] < 2:
        raise InputError(name, "need at least two columns (energy in eV, mu)")
    text = "\n".join(header)
    atom, edge = _ATOM.search(text), _EDGE.search(text)
    energy, mu = _sorted_unique(name, data[:, 0], data[:, 1])
    if energy[0] < XAS_ENERGY_RANGE_EV[0]:
        raise InputError(name, f"first column starts at {energy[0]:g}: expected photon energies in eV")
    _check_xas_energies(name, energy)
    return MeasuredXas(name, energy, mu, atom.group(1) if atom else None, edge.group(1) if edge else None, "mu")


def read_measured_xas(path: str | os.PathLike) -> MeasuredXas:
    """An XDI file (recognised by its first line) or a two-column text table."""
    path = Path(path)
    try:
        with open(path, errors="replace") as handle:
            first = handle.readline()
    except OSError:
        first = ""
    if first.lstrip("#").strip().upper().startswith("XDI") or path.suffix.lower() == ".xdi":
        return read_xdi(path)
    return read_xas_text(path)


_UNIT_PATTERNS = [("cm-1", re.compile(r"cm\^?-1|cm-1|cm1|wavenumber|1/cm", re.I)),
                  ("THz", re.compile(r"thz|terahz", re.I)),
                  ("meV", re.compile(r"mev", re.I))]


def read_measured_dos(path: str | os.PathLike, unit: str | None = None) -> MeasuredDos:
    """Read a measured phonon DOS table: energy, DOS[, error] (comma or whitespace separated).

    Args:
        path: the table.
        unit: energy unit of the first column (``meV``, ``THz`` or ``cm-1``). ``None`` takes it from the
            header (``energy_meV``, ``Frequency(TeraHz)``, ``cm^-1``); a header that names none is an error.

    Returns:
        ``MeasuredDos`` with energies in meV; the density is rescaled so that its integral is unchanged.
    """
    name, lines = _read_text(path)
    data, header = _parse_rows(name, lines)
    if data.shape[1] < 2:
        raise InputError(name, "need at least two columns (energy, DOS)")
    if unit is None:
        text = "\n".join(header)
        found = [u for u, pattern in _UNIT_PATTERNS if pattern.search(text)]
        if not found:
            raise InputError(name, "header does not say the energy unit (meV, THz or cm^-1): give it explicitly")
        unit = found[0]
    if unit not in DOS_UNITS:
        raise InputError(name, f"unknown energy unit {unit!r} (use one of {', '.join(DOS_UNITS)})")
    factor = DOS_UNITS[unit]
    columns = [data[:, 0], data[:, 1]] + ([data[:, 2]] if data.shape[1] > 2 else [])
    energy, dos, *error = _sorted_unique(name, *columns, labels=("energy", "DOS", "error"))
    if (energy < 0).any():
        raise InputError(name, "negative energies: a phonon DOS starts at 0")
    if energy[-1] * factor > PHONON_MAX_MEV:
        raise InputError(name, f"energies reach {energy[-1] * factor:.6g} meV; phonons end below {PHONON_MAX_MEV:g} "
                               "meV (is the unit right?)")
    dos, note = _checked_density(name, dos, error[0] if error else None)
    return MeasuredDos(name, energy * factor, dos / factor, error[0] / factor if error else None, unit, note)


#: Negative DOS values down to this share of the maximum are noise (a background subtraction) and are
#: clipped to 0 with a note; deeper ones mean a broken table.
NEGATIVE_NOISE_SHARE = 0.05


def _checked_density(name: str, dos: np.ndarray, error: np.ndarray | None) -> tuple[np.ndarray, str | None]:
    """A density is not negative beyond noise, nor its uncertainty at all; small negatives become 0."""
    top = float(dos.max())
    if top <= 0:
        raise InputError(name, "DOS column is zero or negative everywhere")
    if error is not None and (error < 0).any():
        k = int(np.argmax(error < 0))
        raise InputError(name, f"{int((error < 0).sum())} negative errors (row {k + 1}: {error[k]:.4g}): an uncertainty "
                               "is at least 0")
    low = float(dos.min())
    if low < -NEGATIVE_NOISE_SHARE * top:
        raise InputError(name, f"DOS goes down to {low:.4g}, {100 * -low / top:.3g}% of its maximum below 0 (noise is "
                               f"within {100 * NEGATIVE_NOISE_SHARE:g}%): is a column a difference or a background?")
    if low < 0:
        count = int((dos < 0).sum())
        note = (f"note: {name}: {count} small negative DOS value{'s' if count > 1 else ''} (down to "
                f"{100 * -low / top:.2g}% of the maximum) clipped to 0")
        return np.clip(dos, 0.0, None), note
    return dos, None


@dataclass
class MeasuredSqe:
    """A measured powder S(|Q|, E) map.

    Attributes:
        name: file path.
        q_inv_ang: (n_q,) increasing |Q| bin centres in 1/Å.
        energy_mev: (n_e,) increasing energy-transfer bin centres in meV.
        intensity: (n_q, n_e) S(|Q|, E); NaN outside the measured kinematic region.
        error: (n_q, n_e) one-sigma uncertainty (from the file's squared errors), NaN where unknown.
        ei_mev, temperature_k, instrument: the experiment's settings where the file states them (optional
            scalar entries of the same names), else None.
    """

    name: str
    q_inv_ang: np.ndarray
    energy_mev: np.ndarray
    intensity: np.ndarray
    error: np.ndarray
    ei_mev: float | None = None
    temperature_k: float | None = None
    instrument: str | None = None


#: Larger maps are rebinned by the user: the prediction is computed on the measured grid.
MAX_SQE_POINTS = 4_000_000
#: Accepted key names in an S(Q,E) ``.npz``: field -> names tried in order.
SQE_KEYS = {"q": ("Q", "q", "q_inv_ang"), "energy": ("E", "energy_mev", "e"), "intensity": ("I", "intensity", "sqe"),
            "error2": ("I_err2", "error2", "err2")}


def read_measured_sqe(path: str | os.PathLike) -> MeasuredSqe:
    """Read a measured S(|Q|, E) ``.npz``: ``Q`` (1/Å), ``E`` (meV), ``I`` (n_Q, n_E) and ``I_err2`` (squared
    errors), as written by the multiphonon package's examples. Arrays only: nothing is unpickled.
    """
    name = str(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise InputError(name, "no such file") from None
    except (OSError, ValueError, EOFError, KeyError, MemoryError, zipfile.BadZipFile) as exc:
        raise InputError(name, f"not a readable .npz of arrays ({type(exc).__name__})") from None
    found = {}
    for field_name, candidates in SQE_KEYS.items():
        key = next((k for k in candidates if k in arrays), None)
        if key is None:
            raise InputError(name, f"no {'/'.join(candidates)} array (has: {', '.join(sorted(arrays)) or 'none'})")
        value = arrays[key]
        if value.dtype.kind not in "fiu":
            raise InputError(name, f"array {key} is not numeric")
        found[field_name] = value.astype(float)
    q, energy, intensity, error2 = found["q"], found["energy"], found["intensity"], found["error2"]
    if q.ndim != 1 or energy.ndim != 1 or len(q) < 2 or len(energy) < 2:
        raise InputError(name, "Q and E must be 1-D with at least two values each")
    if len(q) * len(energy) > MAX_SQE_POINTS:
        raise InputError(name, f"map has {len(q)} x {len(energy)} points; at most {MAX_SQE_POINTS:,} are compared "
                               "(rebin it)")
    if intensity.shape != (len(q), len(energy)) or error2.shape != intensity.shape:
        raise InputError(name, f"I and I_err2 must have shape (len(Q), len(E)) = ({len(q)}, {len(energy)}); "
                               f"got {intensity.shape} and {error2.shape}")
    if not (np.isfinite(q).all() and np.isfinite(energy).all()):
        raise InputError(name, "Q or E has NaN or infinite values")
    if (np.diff(q) <= 0).any() or (np.diff(energy) <= 0).any():
        raise InputError(name, "Q and E must be strictly increasing")
    if (q < 0).any():
        raise InputError(name, "negative |Q|")
    if q[-1] > SQE_MAX_Q_INV_ANG or np.abs(energy).max() > PHONON_MAX_MEV:
        raise InputError(name, f"grid reaches |Q| = {q[-1]:.4g} 1/Å and |E| = {np.abs(energy).max():.4g} meV; "
                               f"expected |Q| up to {SQE_MAX_Q_INV_ANG:g} 1/Å and |E| up to {PHONON_MAX_MEV:g} meV")
    finite = intensity[np.isfinite(intensity)]
    if finite.size and np.abs(finite).max() > MAX_MEASURED_VALUE:
        raise InputError(name, f"an intensity of {np.abs(finite).max():.4g}: beyond any measured intensity "
                               f"(at most {MAX_MEASURED_VALUE:g})")
    usable = np.isfinite(intensity) & np.isfinite(error2) & (error2 > 0)
    if not usable.any():
        raise InputError(name, "no finite intensity with a positive error anywhere (all NaN?)")
    intensity = np.where(np.isfinite(intensity), intensity, np.nan)
    error = np.where(np.isfinite(error2) & (error2 > 0), np.sqrt(np.abs(error2)), np.nan)
    return MeasuredSqe(name, q, energy, intensity, error, **_sqe_settings(name, arrays))


#: Optional experiment settings an S(Q,E) ``.npz`` may state: entry -> (kind, lowest allowed, highest allowed).
SQE_SETTINGS = {"ei_mev": ("number", 0.0, PHONON_MAX_MEV * 10), "temperature_k": ("number", 0.0, 5000.0),
                "instrument": ("text", None, None)}


def _sqe_settings(name: str, arrays: dict) -> dict:
    """The settings entries of an S(Q,E) file, each a scalar of the right kind, or a one-line error."""
    settings = {}
    for key, (kind, low, high) in SQE_SETTINGS.items():
        if key not in arrays:
            continue
        value = arrays[key]
        if value.ndim != 0:
            raise InputError(name, f"entry {key} must be a single value, got shape {value.shape}")
        if kind == "text":
            if value.dtype.kind != "U" or not 0 < len(str(value)) <= 40:
                raise InputError(name, f"entry {key} must be an instrument name (text), got dtype {value.dtype}")
            settings[key] = str(value)
            continue
        if value.dtype.kind not in "fiu" or not np.isfinite(value) or not low < float(value) <= high:
            raise InputError(name, f"entry {key} must be a number in ({low:g}, {high:g}], got "
                                   f"{str(value.dtype) if value.dtype.kind not in 'fiu' else f'{float(value):g}'}")
        settings[key] = float(value)
    return settings


def is_sqe_file(path: str | os.PathLike) -> bool:
    """Whether a measured phonon file is an S(Q,E) map (``.npz``) rather than a DOS table."""
    return not isinstance(path, (MeasuredDos, MeasuredSqe)) and str(path).lower().endswith(".npz")
