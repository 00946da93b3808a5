"""equispec: E(3)-equivariant prediction of phonon DOS (and X-ray absorption spectra) from crystal structures.

The public names come from :mod:`equispec.workflows` and are imported on first use (PEP 562), so that
``import equispec.cli.main`` costs milliseconds: the command line then owns the process (and Ctrl-C) before
torch and pymatgen load.
"""

from ._lazy import lazy_attributes
from ._version import __version__

__all__ = ["PRETRAINED", "EquispecError", "InputError", "PhononDosPrediction", "PhononDosPredictor", "__version__",
           "compare", "evaluate", "identify", "load_model", "predict"]

_FROM = {"PRETRAINED": "workflows", "compare": "workflows", "evaluate": "workflows", "identify": "workflows",
         "load_model": "workflows", "predict": "workflows", "PhononDosPrediction": "inference",
         "PhononDosPredictor": "inference", "EquispecError": "errors", "InputError": "errors"}


__getattr__, __dir__ = lazy_attributes(__name__, _FROM, __all__)
