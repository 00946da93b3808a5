"""equispec: E(3)-equivariant prediction of phonon DOS (and X-ray absorption spectra) from crystal structures."""

from ._version import __version__
from .api import PRETRAINED, PhononDosPrediction, PhononDosPredictor, load_model
from .errors import EquispecError, InputError


def compare(*args, **kwargs):
    """Predict a structure's spectrum and score it against a measured file; see :func:`equispec.analysis.compare`."""
    from .analysis import compare as _compare

    return _compare(*args, **kwargs)


def identify(*args, **kwargs):
    """Rank candidate structures against a measured spectrum; see :func:`equispec.analysis.identify`."""
    from .analysis import identify as _identify

    return _identify(*args, **kwargs)


__all__ = ["PRETRAINED", "EquispecError", "InputError", "PhononDosPrediction", "PhononDosPredictor", "__version__",
           "compare", "identify", "load_model"]
