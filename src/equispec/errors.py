"""One error family for everything a user can get wrong.

The CLI turns an :class:`EquispecError` into ``equispec: error: SOURCE: problem`` and exit status 2,
with no traceback; the Python API lets it propagate as an ordinary exception.
"""

from __future__ import annotations

__all__ = ["EquispecError", "InputError", "ConfigError", "ModelError"]


class EquispecError(Exception):
    """Base class. ``source`` names what was wrong (a file, a config key, a model name)."""

    def __init__(self, source: str | None, problem: str):
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}" if source else problem)


class InputError(EquispecError, ValueError):
    """A structure or data file that cannot be used."""


class ConfigError(EquispecError, ValueError):
    """A training configuration that is malformed."""


class ModelError(EquispecError, ValueError):
    """A model name, directory or checkpoint that cannot be loaded."""
