"""Import e3nn without importing ``torch._dynamo``, which costs about 0.9 s of every cold ``predict``.

e3nn decorates one function (``o3._wigner.change_basis_real_to_complex``) with ``torch.compiler.disable``,
and that call imports the whole of ``torch._dynamo`` at import time, to keep ``torch.compile`` from tracing
the function. While e3nn is imported here, ``torch.compiler.disable`` is swapped for
:func:`disable_when_compiling`, which defers that choice to the first call: if ``torch._dynamo`` has not been
imported by then, nothing can be compiling and the function simply runs; otherwise the real decorator is
applied then, once. Every result is the function's own. Imported first by ``equispec.nn`` and
``equispec.models``, the two packages that import e3nn at their top; nothing is changed if e3nn was imported
before.
"""

from __future__ import annotations

import functools
import sys

import torch

__all__ = ["disable_when_compiling"]


def disable_when_compiling(fn=None, recursive: bool = True, **options):
    """``torch.compiler.disable`` applied on the first call that finds ``torch._dynamo`` imported."""
    if fn is None:
        return lambda function: disable_when_compiling(function, recursive, **options)
    disabled = None

    @functools.wraps(fn)
    def run(*args, **kwargs):
        nonlocal disabled
        if "torch._dynamo" not in sys.modules:
            return fn(*args, **kwargs)
        if disabled is None:
            disabled = _REAL_DISABLE(fn, recursive, **options)
        return disabled(*args, **kwargs)

    return run


_REAL_DISABLE = torch.compiler.disable
if "e3nn.o3" not in sys.modules:
    torch.compiler.disable = disable_when_compiling
    try:
        import e3nn.o3  # noqa: F401
    finally:
        torch.compiler.disable = _REAL_DISABLE
