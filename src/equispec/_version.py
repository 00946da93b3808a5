"""The package version, in a module that imports nothing (so io and the CLI read it without the package's API)."""

__version__ = "0.1.0"
