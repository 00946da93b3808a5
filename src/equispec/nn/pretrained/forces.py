"""The pretrained potentials as force engines: batched supercell forces, or sevenn's ASE calculator."""

from __future__ import annotations

import functools

import numpy as np
import torch

from ...errors import InputError, ModelError
from .blocks import load_sevennet
from .graph import calculator_graph, float32_default

__all__ = ["sevennet_calculator", "supercell_forces"]


def supercell_forces(supercells: list, checkpoint: str, device: str | torch.device = "cpu",
                     max_edges: int | None = None, modality: str | None = None) -> np.ndarray:
    """Forces on every atom of several cells (e.g. phonopy's displaced supercells), in batched passes.

    The graphs are sevenn's own (:func:`calculator_graph`), so that the forces equal the ASE calculator's to
    the last bit: force constants are differences of forces over 0.01 Å, and float32 sums taken in another
    edge order (the project's neighbour list) move them by up to 1e-4 eV/Å^2.

    Args:
        supercells: ASE ``Atoms`` (periodic).
        checkpoint: a sevenn potential (``7net-0``, ``7net-l3i5``, ``7net-mf-0``).
        device: where the potential runs.
        modality: the fidelity of a multi-fidelity potential (``R2SCAN`` or ``PBE`` for ``7net-mf-0``).
        max_edges: edges per pass; bounds memory (autograd keeps every block's activations). Default:
            :meth:`SevenNetBlocks.default_max_edges`.

    Returns:
        (num_cells, num_atoms, 3) float64 forces in eV/Å (all cells must have as many atoms).
    """
    blocks = load_sevennet(checkpoint, device, modality)
    graphs = []
    for k, atoms in enumerate(supercells):
        unknown = sorted(set(atoms.get_atomic_numbers().tolist()) - blocks.known_z)
        if unknown:
            from ase.data import chemical_symbols

            raise InputError(f"supercell {k}", f"element {chemical_symbols[unknown[0]]} is not known to {checkpoint}")
        graphs.append(calculator_graph(atoms, blocks.cutoff_ang))
    _, forces = blocks.energy_forces(graphs, max_edges)
    return np.stack(forces)


@functools.lru_cache(maxsize=None)
def sevennet_calculator(checkpoint: str):
    """One SevenNet ASE calculator per process (on the CPU), for code that wants ASE's interface, such as a
    relaxation. Batched features and forces go through :func:`supercell_forces` instead. Call it inside
    ``float32_default()``."""
    try:
        from sevenn.calculator import SevenNetCalculator
    except ImportError:
        raise ModelError(checkpoint, "needs the sevenn package: pip install sevenn") from None
    with float32_default():
        return SevenNetCalculator(checkpoint, device="cpu")
