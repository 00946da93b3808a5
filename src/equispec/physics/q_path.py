"""Paths through reciprocal space: the standard high-symmetry path of a crystal (seekpath: Y. Hinuma, G. Pizzi,
Y. Kumagai, F. Oba, I. Tanaka, Comp. Mat. Sci. 128, 140 (2017)), a user's own path in reciprocal lattice
units, or a file of Q points, all in the Cartesian frame of the structure as given.

seekpath works on a standardised, possibly rotated copy of the cell. Its points are taken back to the input
frame with its rotation matrix, so that they can be used with force constants of the cell as given. A
user's coordinates are in reciprocal lattice units (r.l.u.) of the conventional cell, as neutron
spectroscopists index Q; labels are seekpath's names (``GAMMA``, ``X``, ``L``, ...).

Path syntax: vertices separated by ``->``, continuous pieces separated by ``|``. A vertex is a label
(``GAMMA``), three numbers (``0.5 0 0.5``) or a named point (``M=0.5 0.5 0``):
``"GAMMA -> X -> U | K -> GAMMA -> L"``, ``"2 0 0 -> 3 0 0 -> 3 1 0"``.
Units: Q in 1/Å (with the 2 pi), distances along the path in 1/Å.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, ModelError

__all__ = ["PathFrame", "QPath", "path_frame", "parse_q_path", "read_q_points", "default_path", "resolve_path",
           "sample_path"]

#: Points along a path per 1/Å when sampling between vertices (0.02 1/Å apart).
POINTS_PER_INV_ANG = 50


@dataclass
class PathFrame:
    """A structure's reciprocal space as paths need it, in the frame of the structure as given.

    Attributes:
        conventional_lattice: (3, 3) rows: the conventional cell's vectors in Å (r.l.u. refer to it).
        points: seekpath's label -> (3,) Cartesian Q in 1/Å.
        segments: seekpath's standard path as (label, label) pairs.
        bravais: seekpath's extended Bravais lattice symbol (``cF2``, ``cI1``, ...).
    """

    conventional_lattice: np.ndarray
    points: dict[str, np.ndarray]
    segments: list[tuple[str, str]]
    bravais: str

    @property
    def conventional_reciprocal(self) -> np.ndarray:
        """(3, 3) rows b_i with a_i . b_j = 2 pi delta_ij, in 1/Å."""
        return 2.0 * np.pi * np.linalg.inv(self.conventional_lattice).T

    def to_rlu(self, q_cart: np.ndarray) -> np.ndarray:
        """Cartesian Q (1/Å) -> r.l.u. of the conventional cell."""
        return np.asarray(q_cart, float) @ self.conventional_lattice.T / (2.0 * np.pi)

    def to_cartesian(self, hkl: np.ndarray) -> np.ndarray:
        """r.l.u. of the conventional cell -> Cartesian Q in 1/Å."""
        return np.asarray(hkl, float) @ self.conventional_reciprocal


def path_frame(structure) -> PathFrame:
    """seekpath's conventional cell, labelled points and standard path of ``structure``, rotated back into
    the structure's own frame (seekpath's lattice rows times its rotation matrix are the input's)."""
    try:
        import seekpath
    except ImportError:
        raise ModelError("seekpath", "dispersion paths need seekpath: pip install 'equispec[physics]'") from None
    cell = (structure.lattice.matrix, structure.frac_coords, [site.specie.Z for site in structure])
    try:
        found = seekpath.get_path(cell, with_time_reversal=True)
    except Exception as exc:  # seekpath raises its own types for cells spglib cannot standardise
        raise InputError(getattr(structure, "formula", "structure"), f"no standard k-path: {exc}") from None
    rotation = np.asarray(found["rotation_matrix"], float)
    reciprocal = np.asarray(found["reciprocal_primitive_lattice"], float) @ rotation
    points = {label: np.asarray(coords, float) @ reciprocal for label, coords in found["point_coords"].items()}
    return PathFrame(np.asarray(found["conv_lattice"], float) @ rotation, points,
                     [tuple(pair) for pair in found["path"]], str(found["bravais_lattice_extended"]))


@dataclass
class QPath:
    """Labelled vertices of a path: each piece a continuous list of (label, Cartesian Q in 1/Å); labels may be
    empty. ``explicit``: the vertices are the points themselves (a file of Q points), no sampling between."""

    pieces: list[list[tuple[str, np.ndarray]]]
    explicit: bool = False
    text: str = ""

    @property
    def labels(self) -> list[str]:
        return [label for piece in self.pieces for label, _ in piece if label]


def default_path(frame: PathFrame) -> QPath:
    """seekpath's standard path, with consecutive segments that share an end joined into one piece."""
    pieces: list[list[tuple[str, np.ndarray]]] = []
    for start, end in frame.segments:
        if pieces and pieces[-1][-1][0] == start:
            pieces[-1].append((end, frame.points[end]))
        else:
            pieces.append([(start, frame.points[start]), (end, frame.points[end])])
    text = " | ".join(" -> ".join(label for label, _ in piece) for piece in pieces)
    return QPath(pieces, text=text)


_NAMED = re.compile(r"^([A-Za-z][A-Za-z0-9_']*)\s*=\s*(.+)$")


def _vertex(token: str, frame: PathFrame, source: str) -> tuple[str, np.ndarray]:
    token = token.strip()
    named = _NAMED.match(token)
    label, numbers = (named.group(1), named.group(2)) if named else ("", token)
    parts = numbers.replace(",", " ").split()
    if len(parts) == 1 and not named and re.fullmatch(r"[A-Za-z][A-Za-z0-9_']*", parts[0]):
        known = {name.upper(): name for name in frame.points}
        if parts[0].upper() in ("G", "Γ"):
            parts[0] = "GAMMA"
        if parts[0].upper() not in known:
            raise InputError(source, f"unknown label {parts[0]!r} for this structure (seekpath's labels: "
                                     f"{', '.join(sorted(frame.points))})")
        name = known[parts[0].upper()]
        return name, frame.points[name].copy()
    try:
        hkl = np.array([float(p) for p in parts])
    except ValueError:
        hkl = np.array([])
    if hkl.shape != (3,) or not np.isfinite(hkl).all():
        raise InputError(source, f"malformed Q {token!r}: expected a label or three numbers H K L")
    return label, frame.to_cartesian(hkl)


def parse_q_path(text: str, frame: PathFrame, source: str = "--q-path") -> QPath:
    """A path in the syntax of this module's docstring -> :class:`QPath` (Cartesian, the structure's frame)."""
    if not str(text).strip():
        raise InputError(source, "empty path")
    pieces = []
    for piece_text in str(text).split("|"):
        tokens = piece_text.split("->")
        if any(not t.strip() for t in tokens):
            raise InputError(source, f"malformed path {piece_text.strip()!r}: an empty vertex around '->'")
        piece = [_vertex(t, frame, source) for t in tokens]
        if len(piece) < 2:
            raise InputError(source, f"a piece of a path needs two vertices or more: {piece_text.strip()!r}")
        pieces.append(piece)
    return QPath(pieces, text=" ".join(str(text).split()))


def read_q_points(path: str | Path, frame: PathFrame) -> QPath:
    """A text file of Q points, one per line, ``H K L`` in r.l.u. of the conventional cell with an optional
    label after them; ``#`` starts a comment. The points are used as they are (no sampling between)."""
    from ..io.files import read_text

    points = []
    for number, line in enumerate(read_text(path, "a file of Q points").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.replace(",", " ").split()
        try:
            hkl = np.array([float(p) for p in parts[:3]])
        except ValueError:
            hkl = np.array([])
        if len(parts) not in (3, 4) or hkl.shape != (3,) or not np.isfinite(hkl).all():
            raise InputError(str(path), f"line {number}: malformed Q {line[:40]!r}: expected H K L [LABEL]")
        points.append((parts[3] if len(parts) == 4 else "", frame.to_cartesian(hkl)))
    if len(points) < 2:
        raise InputError(str(path), "needs at least two Q points")
    return QPath([points], explicit=True, text=str(path))


def resolve_path(path, frame: PathFrame, source: str = "--q-path") -> QPath:
    """The one way a path is asked for, to a :class:`QPath`: None is seekpath's standard path, a
    :class:`QPath` stays as it is, an existing file is a file of Q points, other text a path in this module's
    syntax."""
    if path is None:
        return default_path(frame)
    if isinstance(path, QPath):
        return path
    if Path(str(path)).is_file():
        return read_q_points(path, frame)
    return parse_q_path(path, frame, source)


@dataclass
class PathSamples:
    """Q points along a path.

    Attributes:
        q_cart: (n, 3) Cartesian Q in 1/Å.
        distance: (n,) distance along the path in 1/Å (a jump between pieces adds nothing).
        labels: (n,) the vertex labels, ``""`` elsewhere.
        breaks: indices i where a new piece starts (point i does not connect to i - 1).
    """

    q_cart: np.ndarray
    distance: np.ndarray
    labels: list[str]
    breaks: list[int] = field(default_factory=list)

    def ticks(self) -> tuple[list[float], list[str]]:
        """Positions and names of the labelled points, two labels at one position joined as ``X|K``."""
        positions, names = [], []
        for k, label in enumerate(self.labels):
            if not label:
                continue
            if positions and abs(positions[-1] - self.distance[k]) < 1e-9:
                if names[-1] != label:
                    names[-1] = f"{names[-1]}|{label}"
                continue
            positions.append(float(self.distance[k]))
            names.append(label)
        return positions, ["Γ" if n == "GAMMA" else n.replace("GAMMA", "Γ") for n in names]


def sample_path(path: QPath, points_per_inv_ang: float = POINTS_PER_INV_ANG) -> PathSamples:
    """Points along each segment (both ends included, at most ``points_per_inv_ang`` per 1/Å, at least 2),
    the vertex shared by two segments once. Explicit paths keep their points."""
    q, labels, breaks = [], [], []
    for piece in path.pieces:
        if q:
            breaks.append(len(q))
        if path.explicit:
            q.extend(point for _, point in piece)
            labels.extend(label for label, _ in piece)
            continue
        for k, ((start_label, start), (end_label, end)) in enumerate(zip(piece[:-1], piece[1:])):
            n = max(2, int(np.ceil(np.linalg.norm(end - start) * points_per_inv_ang)) + 1)
            segment = start + np.linspace(0.0, 1.0, n)[:, None] * (end - start)
            if k > 0:
                segment = segment[1:]
            else:
                labels.append(start_label)
            labels.extend([""] * (len(segment) - 2) + [end_label] if k == 0 else [""] * (len(segment) - 1) + [end_label])
            q.extend(segment)
    q_cart = np.asarray(q, float)
    steps = np.linalg.norm(np.diff(q_cart, axis=0), axis=1)
    steps[[b - 1 for b in breaks]] = 0.0
    return PathSamples(q_cart, np.concatenate([[0.0], np.cumsum(steps)]), labels, breaks)
