"""The invariances every model keeps, written once: a crystal's spectrum must not depend on how it is written
down (orientation, inversion, origin, atom order, cell choice, wrapped or unwrapped positions), and per-atom
outputs must follow their atoms.

A test class for one model mixes in :class:`InvarianceContract` and gives fixtures ``model`` (with a
``tolerance`` attribute) and ``crystal``, and :meth:`InvarianceContract.outputs`.
"""

from __future__ import annotations

import pytest
import torch
from e3nn import o3
from pymatgen.core import Lattice, Structure


def rotate(structure: Structure, matrix) -> Structure:
    """Rotate cell *and* positions, then let the graph be rebuilt: never rotate edge features by hand."""
    return Structure(Lattice(structure.lattice.matrix @ matrix.T), structure.species, structure.frac_coords)


class InvarianceContract:
    #: new atom i is old atom ``PERMUTATION[i]``
    PERMUTATION = [3, 0, 4, 2, 1]
    #: compare relative to the largest output (spectra without a fixed scale) or absolutely
    RELATIVE = False

    def tracked(self, structure: Structure) -> list[int]:
        """The atoms whose own outputs are compared (every atom, or the absorbers), ascending."""
        return list(range(len(structure)))

    def outputs(self, model, structure: Structure) -> tuple[torch.Tensor, torch.Tensor]:
        """(the structure's spectrum, one row per atom of :meth:`tracked`, in that order)."""
        raise NotImplementedError

    def assert_close(self, model, got: torch.Tensor, expected: torch.Tensor) -> None:
        scale = expected.abs().max() if self.RELATIVE else 1.0
        assert (got - expected).abs().max() < model.tolerance * scale

    @pytest.mark.parametrize("parity", [1, -1])
    def test_rotation_and_inversion(self, model, crystal, parity):
        spectrum, per_atom = self.outputs(model, crystal)
        for _ in range(3):
            rotated, rotated_atoms = self.outputs(model, rotate(crystal, (parity * o3.rand_matrix()).numpy()))
            self.assert_close(model, rotated, spectrum)
            self.assert_close(model, rotated_atoms, per_atom)

    def test_translation(self, model, crystal):
        spectrum, per_atom = self.outputs(model, crystal)
        shifted = crystal.copy()
        shifted.translate_sites(list(range(len(crystal))), [0.31, -0.17, 0.42], frac_coords=True, to_unit_cell=False)
        moved, moved_atoms = self.outputs(model, shifted)
        self.assert_close(model, moved, spectrum)
        self.assert_close(model, moved_atoms, per_atom)

    def test_permutation_moves_per_atom_outputs_with_the_atoms(self, model, crystal):
        spectrum, per_atom = self.outputs(model, crystal)
        order = self.PERMUTATION
        permuted = Structure(crystal.lattice, [crystal.species[i] for i in order], crystal.frac_coords[order])
        moved, moved_atoms = self.outputs(model, permuted)
        old = self.tracked(crystal)
        self.assert_close(model, moved, spectrum)
        self.assert_close(model, moved_atoms, per_atom[[old.index(order[j]) for j in self.tracked(permuted)]])

    def test_supercell_equals_primitive_cell(self, model, crystal):
        spectrum, _ = self.outputs(model, crystal)
        for scaling in ([2, 1, 1], [[1, 1, 0], [-1, 1, 0], [0, 0, 2]]):
            supercell, _ = self.outputs(model, crystal.make_supercell(scaling, in_place=False))
            self.assert_close(model, supercell, spectrum)

    def test_wrapping_atoms_into_the_cell(self, model, crystal):
        spectrum, per_atom = self.outputs(model, crystal)
        unwrapped = Structure(crystal.lattice, crystal.species, crystal.frac_coords + [[2, -1, 0], [0, 0, 3],
                                                                                       [-1, -1, -1], [0, 1, 0],
                                                                                       [5, 0, 0]])
        out, out_atoms = self.outputs(model, unwrapped)
        self.assert_close(model, out, spectrum)
        self.assert_close(model, out_atoms, per_atom)
