"""Package attributes imported on first use (PEP 562): what keeps ``import equispec`` and ``--help`` free of
torch and pymatgen."""

from __future__ import annotations

import importlib


def lazy_attributes(package: str, sources: dict[str, str], names: list[str]):
    """``(__getattr__, __dir__)`` for ``package``: attribute ``name`` comes from its submodule
    ``sources[name]``, imported the first time the name is read, then kept in the package's namespace."""

    def __getattr__(name: str):
        if name not in sources:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{sources[name]}", package), name)
        setattr(importlib.import_module(package), name, value)
        return value

    def __dir__():
        return sorted(set(vars(importlib.import_module(package))) | set(names))

    return __getattr__, __dir__
