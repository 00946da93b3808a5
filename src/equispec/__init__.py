"""equispec: E(3)-equivariant prediction of phonon DOS (and X-ray absorption spectra) from crystal structures."""

from ._version import __version__
from .api import PRETRAINED, PhononDosPrediction, PhononDosPredictor, compare, identify, load_model
from .errors import EquispecError, InputError

__all__ = ["PRETRAINED", "EquispecError", "InputError", "PhononDosPrediction", "PhononDosPredictor", "__version__",
           "compare", "identify", "load_model"]
