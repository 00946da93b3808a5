"""equispec: E(3)-equivariant prediction of phonon DOS (and X-ray absorption spectra) from crystal structures.

The public names are imported on first use (PEP 562), so that ``import equispec.cli.main`` costs
milliseconds: the command line then owns the process (and Ctrl-C) before torch and pymatgen load.
"""

from ._version import __version__

__all__ = ["PRETRAINED", "EquispecError", "InputError", "PhononDosPrediction", "PhononDosPredictor", "__version__",
           "compare", "identify", "load_model"]

_FROM = {"PRETRAINED": "api", "PhononDosPrediction": "api", "PhononDosPredictor": "api", "compare": "api",
         "identify": "api", "load_model": "api", "EquispecError": "errors", "InputError": "errors"}


def __getattr__(name: str):
    if name not in _FROM:
        raise AttributeError(f"module 'equispec' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{_FROM[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
