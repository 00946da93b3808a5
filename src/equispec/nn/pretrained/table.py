"""The pretrained universal interatomic potentials, in one torch-free table.

Each row is one potential as equispec runs it, as a source of per-atom features for the networks and as a
force engine for physics mode. Every potential ships inside a wheel (no download; no user file is loaded):

- SevenNet-0 and SevenNet-l3i5 (Park et al., J. Chem. Theory Comput. 20, 4857 (2024)): PBE(+U) MPtrj;
  their ``0e`` channels are also the networks' pretrained features;
- SevenNet-MF-0 (Kim et al., J. Am. Chem. Soc. 147, 1042 (2025)), one network with a fidelity input:
  ``7net-mf-0:r2scan`` (r2SCAN, stiffer than PBE) or ``7net-mf-0:pbe``;
- CHGNet 0.3.0 and its r2SCAN transfer-learned model (Deng et al., Nat. Mach. Intell. 5, 1031 (2023);
  Huang et al., 2024), from the optional ``chgnet`` package: ``pip install 'equispec[chgnet]'``.

The CLI's parser, the physics settings, the featurizer, the model builder and the training config all read
names from here, so that each name is spelt once.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from ...errors import ModelError

__all__ = ["DEFAULT_POTENTIAL", "FEATURES", "POTENTIALS", "POTENTIAL_NAMES", "Potential", "check_installed",
           "get_features", "get_potential"]

#: The equispec extra that installs each engine's package.
_EXTRAS = {"sevenn": "physics", "chgnet": "chgnet"}


@dataclass(frozen=True)
class Potential:
    """One pretrained potential.

    Attributes:
        name: what ``--potential`` takes; for a multi-fidelity SevenNet, ``checkpoint:fidelity``.
        engine: ``sevenn`` (batched through :mod:`equispec.nn.pretrained`) or ``chgnet`` (CHGNet's own
            batches); also the Python package it needs.
        functional: the DFT level the potential was trained on.
        cutoff_ang: the radius of its atom graph (Å); each message-passing layer reaches this far.
        modality: the fidelity of a multi-fidelity SevenNet (its ``modal_map`` key), else None.
        model_name: the engine's own name of the model where it is not ours (CHGNet's ``model_name``).
        features: the name a model records when it reads this potential's per-atom features, else None.
        num_blocks, channels: interaction blocks, and ``0e`` scalars per block, of a feature source.
    """

    name: str
    engine: str
    functional: str
    cutoff_ang: float
    modality: str | None = None
    model_name: str | None = None
    features: str | None = None
    num_blocks: int = 0
    channels: int = 0

    @property
    def checkpoint(self) -> str:
        """The engine's model name (sevenn's pretrained name, CHGNet's ``model_name``)."""
        return self.model_name or self.name.partition(":")[0]

    @property
    def package(self) -> str:
        return self.engine

    @property
    def extra(self) -> str:
        return _EXTRAS[self.engine]

    @property
    def feature_dim(self) -> int:
        """Width of the per-atom features: every block's scalars side by side."""
        return self.num_blocks * self.channels

    @property
    def supercell_ang(self) -> float:
        """Physics mode's minimum supercell length: twice the cutoff, so that no atom's neighbour sphere holds
        a periodic image of the displaced atom. ``docs/physics.md`` gives the convergence check behind it
        (SevenNet-l3i5: a shorter cell moved the DOS away from DFPT; a longer one changed its distance to
        DFPT by less than the potential's own error)."""
        return 2.0 * self.cutoff_ang


_ROWS = (
    Potential("7net-0", "sevenn", "PBE(+U)", 5.0, features="sevennet-0", num_blocks=5, channels=128),
    Potential("7net-l3i5", "sevenn", "PBE(+U)", 5.0, features="sevennet-l3i5", num_blocks=5, channels=128),
    Potential("7net-mf-0:r2scan", "sevenn", "r2SCAN", 5.0, modality="R2SCAN"),
    Potential("7net-mf-0:pbe", "sevenn", "PBE(+U)", 5.0, modality="PBE"),
    Potential("chgnet", "chgnet", "PBE(+U)", 6.0, model_name="0.3.0"),
    Potential("chgnet-r2scan", "chgnet", "r2SCAN", 6.0, model_name="r2scan"),
)
POTENTIALS: dict[str, Potential] = {p.name: p for p in _ROWS}
POTENTIAL_NAMES = tuple(POTENTIALS)
#: Physics mode's potential when neither the user nor a hybrid calibration names one: the first row.
DEFAULT_POTENTIAL = _ROWS[0].name
#: Feature name (``model.pretrained`` in a model's hyperparameters) -> the potential that computes them.
FEATURES: dict[str, Potential] = {p.features: p for p in _ROWS if p.features}


def get_potential(name: str) -> Potential:
    """The table's entry for ``name`` (case-insensitive; ``7net-mf-0:R2SCAN`` is ``7net-mf-0:r2scan``).

    Raises:
        ModelError: an unknown potential, or an unknown or missing modality of a multi-fidelity one.
    """
    key = str(name).strip().lower()
    if key in POTENTIALS:
        return POTENTIALS[key]
    base, _, modality = key.partition(":")
    modalities = sorted(p.name.partition(":")[2] for p in _ROWS if p.name.startswith(base + ":"))
    if modalities:
        problem = f"unknown modality '{modality}'" if modality else "needs a modality"
        raise ModelError(str(name), f"{problem} (known: {', '.join(f'{base}:{m}' for m in modalities)})")
    raise ModelError(str(name), f"unknown potential (known: {', '.join(POTENTIAL_NAMES)})")


def get_features(name: str) -> Potential:
    """The potential behind the pretrained features ``name`` (a model's ``pretrained`` hyperparameter)."""
    if name not in FEATURES:
        raise ModelError(name, f"unknown pretrained features (known: {', '.join(FEATURES)})")
    return FEATURES[name]


def check_installed(potential: Potential) -> None:
    """Fail at once, before any computation, when the potential's package is missing."""
    if importlib.util.find_spec(potential.package) is None:
        raise ModelError(potential.name, f"needs the {potential.package} package: pip install "
                                         f"'equispec[{potential.extra}]'")
