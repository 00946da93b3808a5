"""Writing single-crystal S(Q, E) maps (:class:`equispec.physics.single_crystal.SingleCrystalMap`).

Files are written as transactions (:mod:`equispec.io.files`): a failure leaves the old file, or none.
"""

from __future__ import annotations

import json
from pathlib import Path

from .files import atomic_savez, atomic_write
from .spectra import check_output

__all__ = ["write_single_crystal_map"]


def write_single_crystal_map(sqe_map, path: str | Path) -> Path:
    """``.json``: the map's ``to_dict()`` (null for NaN). ``.npz``: its ``to_arrays()`` (``intensity`` (n_Q, n_E),
    ``energy_mev``, ``q_cart``, ``q_rlu``, ``distance_inv_ang``, ``labels``, ``frequencies_mev``, ``details`` as
    JSON text; loads without pickle). Written atomically; returns the path."""
    path = check_output(path, (".json", ".npz"))
    if path.suffix.lower() == ".json":
        text = json.dumps(sqe_map.to_dict(), indent=1) + "\n"
        atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        return path
    atomic_savez(path, sqe_map.to_arrays(), compressed=True)
    return path


