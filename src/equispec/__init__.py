"""equispec: E(3)-equivariant prediction of phonon DOS (and X-ray absorption spectra) from crystal structures."""

__version__ = "0.1.0"

from .api import PRETRAINED, PhononDosPrediction, PhononDosPredictor, load_model  # noqa: E402
from .errors import EquispecError, InputError  # noqa: E402

__all__ = ["PRETRAINED", "EquispecError", "InputError", "PhononDosPrediction", "PhononDosPredictor", "__version__",
           "load_model"]
