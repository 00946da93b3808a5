"""Structures in, checked and turned into periodic graphs; labelled data sets read from disk.

The names below are imported on first use (PEP 562), so that ``equispec.data.structures`` (pymatgen only)
does not load torch through ``graphs``, and the CLI can check its inputs before torch loads.
"""

__all__ = ["PhononDosTable", "build_graphs", "check_structure", "edge_vectors", "read_ids",
           "read_phdos_csv", "read_structure", "structure_to_graph", "to_structure"]

_FROM = {"PhononDosTable": "datasets", "build_graphs": "datasets", "read_ids": "datasets",
         "read_phdos_csv": "datasets", "edge_vectors": "graphs", "structure_to_graph": "graphs",
         "check_structure": "structures", "read_structure": "structures", "to_structure": "structures"}


def __getattr__(name: str):
    if name not in _FROM:
        raise AttributeError(f"module 'equispec.data' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{_FROM[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
