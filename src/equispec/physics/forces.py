"""Forces on phonopy's displaced supercells from a universal potential of :mod:`equispec.nn.pretrained.table`: SevenNet
in batched passes of its native module, CHGNet in its own batches, or any ASE calculator one cell at a time."""

from __future__ import annotations

import functools
import hashlib

import numpy as np

from ..errors import ModelError
from ..nn.pretrained.table import DEFAULT_POTENTIAL, Potential, check_installed, get_potential

__all__ = ["displaced_forces", "potential_record", "ase_calculator"]


def displaced_forces(supercells: list, calculator=None, potential: str | Potential = DEFAULT_POTENTIAL, device: str = "cpu"
                     ) -> np.ndarray:
    """Forces of every displaced supercell.

    Args:
        supercells: phonopy's ``PhonopyAtoms`` (``phonon.supercells_with_displacements``) or ASE ``Atoms``.
        calculator: an ASE calculator; None runs ``potential`` on ``device``, several supercells per pass.
        potential: a name of :data:`equispec.nn.pretrained.table.POTENTIALS` (or its entry).

    Returns:
        (num_cells, num_atoms, 3) float64 forces in eV/Å.
    """
    from ase import Atoms

    cells = [Atoms(c.symbols, cell=c.cell, scaled_positions=c.scaled_positions, pbc=True) for c in supercells]
    if calculator is None:
        potential = potential if isinstance(potential, Potential) else get_potential(potential)
        check_installed(potential)
        if potential.engine == "chgnet":
            return _chgnet_forces(cells, potential, device)
        from ..nn.pretrained import supercell_forces

        return supercell_forces(cells, potential.checkpoint, device, modality=potential.modality)
    from ..nn.pretrained import float32_default

    forces = []
    with float32_default():  # SevenNet runs in float32 whatever the caller's default dtype
        for atoms in cells:
            atoms.calc = calculator
            forces.append(np.asarray(atoms.get_forces(), dtype=float))
    return np.stack(forces)


#: Atoms per CHGNet pass: its bond graph holds every angle within 3 Å, so memory grows with the atoms of a
#: pass times their neighbours. A 216-atom alpha-boron supercell (mp-160, 7.2 Å^3/atom) took 4.4 GB alone
#: and 8.2 GB two at a time (peak RSS, measured), and sixteen at a time ran out of the machine's 24 GB:
#: a pass holds one such cell, or several small ones.
CHGNET_ATOMS_PER_PASS = 256


@functools.lru_cache(maxsize=None)
def _chgnet(checkpoint: str, device: str):
    """CHGNet's own loader, from the weights inside its installed wheel (never a user's file)."""
    import contextlib
    import io

    from chgnet.model import CHGNet

    with contextlib.redirect_stdout(io.StringIO()):  # it prints the device it chose
        return CHGNet.load(model_name=checkpoint, use_device=device, verbose=False).eval()


def _chgnet_forces(cells: list, potential: Potential, device: str) -> np.ndarray:
    from pymatgen.io.ase import AseAtomsAdaptor

    from ..nn.pretrained import float32_default

    model = _chgnet(potential.checkpoint, str(device))
    structures = [AseAtomsAdaptor.get_structure(atoms) for atoms in cells]
    per_pass = max(1, CHGNET_ATOMS_PER_PASS // max(len(s) for s in structures))
    with float32_default():  # CHGNet's weights are float32 too, whatever the caller's default dtype
        results = model.predict_structure(structures, task="ef", batch_size=per_pass)
    results = [results] if isinstance(results, dict) else results
    return np.stack([np.asarray(r["f"], dtype=float) for r in results])


@functools.lru_cache(maxsize=None)
def potential_record(name: str) -> dict:
    """What decides a potential's forces, without building it: the package version and the sha256 of the
    weights file (plus the modality of a multi-fidelity one). Goes into every physics-cache key and output."""
    potential = get_potential(name)
    check_installed(potential)
    if potential.engine == "sevenn":
        from ..nn.pretrained import sevennet_record

        record = dict(sevennet_record(potential.checkpoint))
        if potential.modality is not None:
            record["modality"] = potential.modality
        return record
    import chgnet
    from pathlib import Path

    files = sorted((Path(chgnet.__file__).parent / "pretrained" / potential.checkpoint).glob("*.pth.tar"))
    if len(files) != 1:
        raise ModelError(name, f"chgnet {chgnet.__version__} does not ship one {potential.checkpoint} model")
    digest = hashlib.sha256(files[0].read_bytes()).hexdigest()
    return {"checkpoint": potential.checkpoint, "chgnet_version": chgnet.__version__, "weights_sha256": digest}


def ase_calculator(name: str):
    """One ASE calculator per potential and process (on the CPU), for code that wants ASE's interface, such
    as a relaxation; forces of many cells go through :func:`displaced_forces` instead."""
    return _ase_calculator(get_potential(name).name)


@functools.lru_cache(maxsize=None)
def _ase_calculator(name: str):
    potential = get_potential(name)
    check_installed(potential)
    if potential.engine == "chgnet":
        from chgnet.model.dynamics import CHGNetCalculator

        return CHGNetCalculator(_chgnet(potential.checkpoint, "cpu"), use_device="cpu")
    from ..nn.pretrained import sevennet_calculator

    if potential.modality is None:
        return sevennet_calculator(potential.checkpoint)
    from sevenn.calculator import SevenNetCalculator

    from ..nn.pretrained import float32_default

    with float32_default():
        return SevenNetCalculator(potential.checkpoint, device="cpu", modal=potential.modality)
