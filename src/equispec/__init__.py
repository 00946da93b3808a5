"""equispec: E(3)-equivariant prediction of phonon DOS and X-ray absorption spectra from crystal structures."""

__version__ = "0.1.0"
__all__ = ["__version__"]
