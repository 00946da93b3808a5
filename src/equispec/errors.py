"""One error family for everything a user can get wrong.

The CLI turns an :class:`EquispecError` into ``equispec: error: SOURCE: problem`` and exit status 2,
with no traceback; the Python API lets it propagate as an ordinary exception.
"""

from __future__ import annotations

__all__ = ["EquispecError", "InputError", "ConfigError", "ModelError", "brief"]


def brief(value, limit: int = 80) -> str:
    """A short ``repr`` for an error message, built without formatting the whole value: ``f"{v!r:.40}"``
    writes all of a huge value (a YAML alias bomb: 3 GB) before it cuts it."""
    import reprlib

    shortener = reprlib.Repr()
    shortener.maxlevel, shortener.maxstring, shortener.maxother = 3, limit, limit
    shortener.maxlist = shortener.maxtuple = shortener.maxdict = shortener.maxset = 6
    try:
        text = shortener.repr(value)
    except Exception:  # noqa: BLE001 - an int past Python's digit limit, a broken __repr__
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class EquispecError(Exception):
    """Base class. ``source`` names what was wrong (a file, a config key, a model name)."""

    def __init__(self, source: str | None, problem: str):
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}" if source else problem)

    def __reduce__(self):  # pickled whole: raised in a worker process, re-raised as it was by the client
        return type(self), (self.source, self.problem)


class InputError(EquispecError, ValueError):
    """A structure or data file that cannot be used."""


class ConfigError(EquispecError, ValueError):
    """A training configuration that is malformed."""


class ModelError(EquispecError, ValueError):
    """A model name, directory or checkpoint that cannot be loaded."""
