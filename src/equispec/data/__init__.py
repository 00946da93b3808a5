"""Structures in, checked and turned into periodic graphs; labelled data sets read from disk.

The names below are imported on first use (PEP 562), so that ``equispec.data.structures`` (pymatgen only)
does not load torch through ``graphs``, and the CLI can check its inputs before torch loads.
"""

from .._lazy import lazy_attributes

__all__ = ["PhononDosTable", "build_graphs", "check_structure", "edge_vectors", "read_ids",
           "read_phdos_csv", "read_structure", "structure_to_graph", "to_structure"]

_FROM = {"PhononDosTable": "datasets", "build_graphs": "datasets", "read_ids": "datasets",
         "read_phdos_csv": "datasets", "edge_vectors": "graphs", "structure_to_graph": "graphs",
         "check_structure": "structures", "read_structure": "structures", "to_structure": "structures"}


__getattr__, __dir__ = lazy_attributes(__name__, _FROM, __all__)
