"""Where a Materials Project id becomes a structure: the one place below the command line that may use the
network for an input. Everything beneath this layer reads structures from files and objects only
(``read_structure``, offered here for the front ends)."""

from __future__ import annotations

import os

from ..data.structures import is_mp_id, read_structure

__all__ = ["read_structure", "resolve_structures"]


def resolve_structures(inputs, names: list | None = None) -> tuple[list, list]:
    """Fetch the structures of the Materials Project ids among ``inputs`` (one client, cached on disk; needs
    ``MP_API_KEY`` the first time). Returns ``(inputs, names)``: each id replaced by its ``Structure`` and
    named by the id unless ``names`` says otherwise; other inputs (paths, ``Structure``, ``Atoms``) as they
    were. A string that names an existing file is a file, whatever it looks like."""
    single = isinstance(inputs, (str, os.PathLike)) or not isinstance(inputs, (list, tuple))
    inputs = [inputs] if single else list(inputs)
    names = list(names) if names is not None else [None] * len(inputs)
    ids = [k for k, obj in enumerate(inputs) if isinstance(obj, str) and is_mp_id(obj) and not os.path.exists(obj)]
    if ids:
        from .materials_project import MaterialsProject

        client = MaterialsProject()
        for k in ids:
            inputs[k], names[k] = client.structure(inputs[k]), names[k] or inputs[k]
    return inputs, names
