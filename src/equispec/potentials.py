"""The universal interatomic potentials physics mode can take its forces from: one table, no torch.

Every potential ships inside a wheel (no download, no user file is ever loaded):

- SevenNet-0 and SevenNet-l3i5 (Park et al., J. Chem. Theory Comput. 20, 4857 (2024)): PBE(+U) MPtrj;
- SevenNet-MF-0 (Kim et al., J. Am. Chem. Soc. 147, 1042 (2025)), one network with a fidelity input:
  ``7net-mf-0:r2scan`` (r2SCAN, stiffer than PBE) or ``7net-mf-0:pbe``;
- CHGNet 0.3.0 and its r2SCAN transfer-learned model (Deng et al., Nat. Mach. Intell. 5, 1031 (2023);
  Huang et al., 2024), from the optional ``chgnet`` package: ``pip install 'equispec[chgnet]'``.

The CLI's parser and the physics settings read names from here, so a name is spelt once.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from .errors import ModelError

__all__ = ["Potential", "POTENTIALS", "POTENTIAL_NAMES", "get_potential", "check_installed"]


@dataclass(frozen=True)
class Potential:
    """One potential as physics mode runs it.

    Attributes:
        name: what ``--potential`` takes.
        engine: ``sevenn`` (batched through :mod:`equispec.nn.sevennet`) or ``chgnet`` (CHGNet's own batches).
        checkpoint: the engine's model name (sevenn's pretrained name, CHGNet's ``model_name``).
        modality: the fidelity of a multi-fidelity SevenNet (its ``modal_map`` key), else None.
        package: the Python package the engine needs; ``extra``: the equispec extra that installs it.
        functional: the DFT level the potential was trained on.
        cutoff_ang: the radius of its atom graph (Å); each message-passing layer reaches this far.
    """

    name: str
    engine: str
    checkpoint: str
    modality: str | None
    package: str
    extra: str
    functional: str
    cutoff_ang: float

    @property
    def supercell_ang(self) -> float:
        """Physics mode's minimum supercell length: twice the cutoff, so that no atom's neighbour sphere holds
        a periodic image of the displaced atom. ``docs/physics.md`` gives the convergence check behind it
        (SevenNet-l3i5: a shorter cell moved the DOS away from DFPT; a longer one changed its distance to
        DFPT by less than the potential's own error)."""
        return 2.0 * self.cutoff_ang


POTENTIALS: dict[str, Potential] = {p.name: p for p in (
    Potential("7net-0", "sevenn", "7net-0", None, "sevenn", "physics", "PBE(+U)", 5.0),
    Potential("7net-l3i5", "sevenn", "7net-l3i5", None, "sevenn", "physics", "PBE(+U)", 5.0),
    Potential("7net-mf-0:r2scan", "sevenn", "7net-mf-0", "R2SCAN", "sevenn", "physics", "r2SCAN", 5.0),
    Potential("7net-mf-0:pbe", "sevenn", "7net-mf-0", "PBE", "sevenn", "physics", "PBE(+U)", 5.0),
    Potential("chgnet", "chgnet", "0.3.0", None, "chgnet", "chgnet", "PBE(+U)", 6.0),
    Potential("chgnet-r2scan", "chgnet", "r2scan", None, "chgnet", "chgnet", "r2SCAN", 6.0),
)}
POTENTIAL_NAMES = tuple(POTENTIALS)


def get_potential(name: str) -> Potential:
    """The table's entry for ``name`` (case-insensitive; ``7net-mf-0:R2SCAN`` is ``7net-mf-0:r2scan``).

    Raises:
        ModelError: an unknown potential, or an unknown or missing modality of a multi-fidelity one.
    """
    key = str(name).strip().lower()
    if key in POTENTIALS:
        return POTENTIALS[key]
    base, _, modality = key.partition(":")
    modalities = sorted(p.name.partition(":")[2] for p in POTENTIALS.values() if p.name.startswith(base + ":"))
    if modalities:
        problem = f"unknown modality '{modality}'" if modality else "needs a modality"
        raise ModelError(str(name), f"{problem} (known: {', '.join(f'{base}:{m}' for m in modalities)})")
    raise ModelError(str(name), f"unknown potential (known: {', '.join(POTENTIAL_NAMES)})")


def check_installed(potential: Potential) -> None:
    """Fail at once, before any computation, when the potential's package is missing."""
    if importlib.util.find_spec(potential.package) is None:
        raise ModelError(potential.name, f"needs the {potential.package} package: pip install "
                                         f"'equispec[{potential.extra}]'")
