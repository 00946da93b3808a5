"""The ``equispec`` command line."""
