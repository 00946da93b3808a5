"""Structures in, checked and turned into periodic graphs; labelled data sets read from disk."""

from .datasets import PhononDosTable, build_graphs, read_ids, read_phdos_csv
from .graphs import edge_vectors, structure_to_graph
from .structures import check_structure, read_structure, to_structure

__all__ = ["PhononDosTable", "build_graphs", "check_structure", "edge_vectors", "read_ids",
           "read_phdos_csv", "read_structure", "structure_to_graph", "to_structure"]
