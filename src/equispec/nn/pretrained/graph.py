"""SevenNet's input graphs, built on equispec's own neighbour lists and batched as disjoint unions.

sevenn's edge convention is the reverse of equispec's: its ``edge_index[0]`` is the centre i and
``edge_index[1]`` the neighbour j, with ``edge_vec = r_j + shift @ cell - r_i``, which is equispec's
``keys.EDGE_VECTORS`` of the edge j -> i. Feature graphs (:func:`sevennet_graph`) come from
:func:`equispec.data.neighbors.periodic_neighbors` at the potential's cutoff; force graphs from sevenn's own
builder (:func:`calculator_graph`, see :func:`equispec.nn.pretrained.forces.supercell_forces` for why).
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["SevenNetGraph", "calculator_graph", "float32_default", "inversion_permutation", "sevennet_graph"]

# sevenn's data keys (``sevenn._keys``), written out so that building a batch does not import sevenn
_X, _Z, _EDGE_INDEX, _EDGE_VEC = "x", "atomic_numbers", "edge_index", "edge_vec"
_BATCH, _NUM_ATOMS, _CELL_VOLUME = "batch", "num_atoms", "cell_volume"
_ENERGY, _FORCE = "inferred_total_energy", "inferred_force"
_MODAL_TYPE = "modal_type"  # (num_graphs,) int64: a multi-fidelity potential's fidelity index per graph


@contextlib.contextmanager
def float32_default():
    """SevenNet is built and run in float32, whatever the caller's default dtype."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        torch.set_default_dtype(previous)


@dataclass
class SevenNetGraph:
    """Periodic neighbour graph of one structure at a potential's cutoff, in numpy (cheap to batch).

    Attributes:
        atomic_numbers: (num_atoms,) int64.
        edge_index: (2, num_edges) int64, equispec's direction: [0] = neighbour j, [1] = centre i.
        edge_vectors: (num_edges, 3) float64 Å, ``r_j + shift @ cell - r_i``.
        volume_ang3: cell volume in Å^3 (sevenn's stress output divides by it).
        inversion: for a centrosymmetric structure, the atom each atom goes to under the inversion
            (``-r_i + t = r_inversion[i]`` modulo the lattice); None otherwise (or not looked for).
    """

    atomic_numbers: np.ndarray
    edge_index: np.ndarray
    edge_vectors: np.ndarray
    volume_ang3: float
    inversion: np.ndarray | None = None

    @property
    def num_atoms(self) -> int:
        return len(self.atomic_numbers)

    @property
    def num_edges(self) -> int:
        return self.edge_index.shape[1]


def inversion_permutation(structure, tolerance_ang: float = 1e-6, max_atoms: int = 400) -> np.ndarray | None:
    """The permutation an inversion centre makes of the atoms, if the structure has one.

    Finds a translation t with ``-r_i + t = r_p[i]`` (modulo the lattice, same element, within
    ``tolerance_ang`` Å) for every atom i. Then the mirror image (every position negated) is the structure
    itself, translated and permuted, and its features need no second pass. The tolerance is tight because
    the features change with positions: a structure that is centrosymmetric only to 1e-4 Å goes through the
    network twice.

    Returns:
        (num_atoms,) int64 ``p``, or None (no inversion centre, or more than ``max_atoms`` atoms).
    """
    n = len(structure)
    if n > max_atoms:
        return None
    frac = np.asarray(structure.frac_coords, dtype=np.float64)
    numbers = np.asarray(structure.atomic_numbers)
    lattice = structure.lattice.matrix
    same = numbers[:, None] == numbers[None, :]
    for j in np.flatnonzero(numbers == numbers[0]):
        difference = (frac[0] + frac[j] - frac)[:, None, :] - frac[None, :, :]  # -r_i + t - r_k
        difference -= np.round(difference)
        distance = np.linalg.norm(difference @ lattice, axis=-1)
        match = (distance < tolerance_ang) & same
        if (match.sum(axis=1) == 1).all():
            permutation = match.argmax(axis=1)
            if len(np.unique(permutation)) == n:
                return permutation.astype(np.int64)
    return None


def sevennet_graph(structure, cutoff_ang: float, find_inversion: bool = True) -> SevenNetGraph:
    """The graph SevenNet reads for a pymatgen ``Structure`` or an ASE ``Atoms`` (periodic in 3D).

    Atoms without a neighbour inside the cutoff are allowed (their features come from the self-connection
    only), as in sevenn's own graph builder. ``find_inversion``: look for an inversion centre
    (:func:`inversion_permutation`).
    """
    from ...data.neighbors import periodic_neighbors

    if type(structure).__name__ == "Atoms":
        from pymatgen.io.ase import AseAtomsAdaptor

        structure = AseAtomsAdaptor.get_structure(structure)
    sources, centres, images = periodic_neighbors(structure, cutoff_ang)
    cart = structure.cart_coords
    vectors = cart[sources] + images @ structure.lattice.matrix - cart[centres]
    return SevenNetGraph(np.asarray(structure.atomic_numbers, dtype=np.int64),
                         np.stack([sources, centres]).astype(np.int64), vectors, float(structure.volume),
                         inversion_permutation(structure) if find_inversion else None)


def _batch(graphs: list[SevenNetGraph], negate: list[bool], device: torch.device) -> dict:
    """sevenn's input dictionary for the disjoint union of ``graphs``; where ``negate`` is true, the graph's
    edge vectors are negated (its mirror image: the structure with every position negated)."""
    sizes = np.array([g.num_atoms for g in graphs])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    numbers = np.concatenate([g.atomic_numbers for g in graphs])
    edges = np.concatenate([g.edge_index + o for g, o in zip(graphs, offsets)], axis=1)
    vectors = np.concatenate([-g.edge_vectors if n else g.edge_vectors for g, n in zip(graphs, negate)])
    batch = np.repeat(np.arange(len(graphs)), sizes)
    volumes = np.array([g.volume_ang3 for g in graphs])
    return {
        _Z: torch.from_numpy(numbers).to(device),
        _EDGE_INDEX: torch.from_numpy(edges[::-1].copy()).to(device),  # sevenn: [0] = centre, [1] = neighbour
        _EDGE_VEC: torch.from_numpy(vectors).to(device=device, dtype=torch.float32),
        _BATCH: torch.from_numpy(batch).to(device),
        _NUM_ATOMS: torch.from_numpy(sizes).to(device),
        _CELL_VOLUME: torch.from_numpy(volumes).to(device=device, dtype=torch.float32),
    }


def _chunks(graphs: list[SevenNetGraph], max_edges: int) -> list[slice]:
    """Consecutive slices of ``graphs`` with at most ``max_edges`` edges each (a bigger graph goes alone)."""
    slices, start, edges = [], 0, 0
    for i, graph in enumerate(graphs):
        if i > start and edges + graph.num_edges > max_edges:
            slices.append(slice(start, i))
            start, edges = i, 0
        edges += graph.num_edges
    if start < len(graphs):
        slices.append(slice(start, len(graphs)))
    return slices



def calculator_graph(atoms, cutoff_ang: float) -> SevenNetGraph:
    """The graph sevenn's ASE calculator builds (``sevenn.train.dataload.unlabeled_atoms_to_graph``: matscipy's
    or ASE's neighbour list, in their edge order)."""
    from sevenn.train.dataload import unlabeled_atoms_to_graph

    data = unlabeled_atoms_to_graph(atoms, cutoff_ang)
    return SevenNetGraph(np.asarray(data[_Z], dtype=np.int64), np.asarray(data[_EDGE_INDEX])[::-1].astype(np.int64),
                         np.asarray(data[_EDGE_VEC], dtype=np.float64), float(atoms.get_volume()))
