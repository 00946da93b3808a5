"""equispec: E(3)-equivariant prediction of phonon DOS (and X-ray absorption spectra) from crystal structures.

The public names are imported on first use (PEP 562), so that ``import equispec.cli.main`` costs
milliseconds: the command line then owns the process (and Ctrl-C) before torch and pymatgen load.
"""

from ._lazy import lazy_attributes
from ._version import __version__

__all__ = ["PRETRAINED", "EquispecError", "InputError", "PhononDosPrediction", "PhononDosPredictor", "__version__",
           "compare", "identify", "load_model"]

_FROM = {"PRETRAINED": "api", "PhononDosPrediction": "api", "PhononDosPredictor": "api", "compare": "api",
         "identify": "api", "load_model": "api", "EquispecError": "errors", "InputError": "errors"}


__getattr__, __dir__ = lazy_attributes(__name__, _FROM, __all__)
