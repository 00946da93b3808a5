"""equispec: E(3)-equivariant prediction of phonon DOS (and X-ray absorption spectra) from crystal structures."""

__version__ = "0.1.0"

from .api import PRETRAINED, PhononDosPrediction, PhononDosPredictor, load_model  # noqa: E402
from .errors import EquispecError, InputError  # noqa: E402


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
