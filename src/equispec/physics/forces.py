"""Forces on phonopy's displaced supercells: batched SevenNet passes, or any ASE calculator one cell at a time."""

from __future__ import annotations

import numpy as np

__all__ = ["displaced_forces"]


def displaced_forces(supercells: list, calculator=None, checkpoint: str = "7net-0", device: str = "cpu"
                     ) -> np.ndarray:
    """Forces of every displaced supercell.

    Args:
        supercells: phonopy's ``PhonopyAtoms`` (``phonon.supercells_with_displacements``) or ASE ``Atoms``.
        calculator: an ASE calculator; None runs the sevenn potential ``checkpoint`` on ``device`` through
            :func:`equispec.nn.sevennet.supercell_forces`, several supercells per pass.

    Returns:
        (num_cells, num_atoms, 3) float64 forces in eV/Å.
    """
    from ase import Atoms

    cells = [Atoms(c.symbols, cell=c.cell, scaled_positions=c.scaled_positions, pbc=True) for c in supercells]
    if calculator is None:
        from ..nn.sevennet import supercell_forces

        return supercell_forces(cells, checkpoint, device)
    from ..nn.sevennet import float32_default

    forces = []
    with float32_default():  # SevenNet runs in float32 whatever the caller's default dtype
        for atoms in cells:
            atoms.calc = calculator
            forces.append(np.asarray(atoms.get_forces(), dtype=float))
    return np.stack(forces)
