"""Building e3nn networks without the work whose result is known beforehand (issue 24: a cold ``predict``).

Three costs of building SevenNet-0 and the phonon heads are recomputations, not model state:

- e3nn's ``normalize2mom`` (every gated activation) calls ``e3nn.math.moment(f, 2)``, the second moment of
  ``f`` over 1,000,000 normals from a generator seeded with 0: a constant of ``(f, n, dtype, device)``, drawn
  anew 30 times per ``predict`` for two functions (silu, sigmoid), ~20 ms each.
- sevenn's ``util.infer_irreps_out`` builds an ``e3nn.o3.FullTensorProduct`` (with its generated code) only to
  read its ``irreps_out``, twice per interaction block: ~0.4 s for SevenNet-0.
- e3nn generates (``torch.fx``) and einsum-optimises (``opt_einsum_fx``, with example inputs) the code of every
  ``TensorProduct`` and ``Linear`` it builds, ~20-45 ms each, although the code depends only on the irreps,
  instructions and options: the five members of the shipped ensemble are five copies of one architecture.

:func:`lean_e3nn_build` removes all three while it is active, and only then (nothing is patched at import):
``moment`` is memoised per ``(f, n, dtype, device)`` and process, and sevenn's ``infer_irreps_out`` sees a
stand-in for ``FullTensorProduct`` that computes ``irreps_out`` as e3nn's ``FullTensorProduct.__init__`` does
(every ``ir_out`` of ``ir_1 * ir_2`` with multiplicity ``mul_1 * mul_2``, then ``Irreps.sort``) without building
the product; and e3nn's code generators (its ``_CODEGEN_PROVIDERS_*`` lists, the extension point it offers,
and ``o3._linear._codegen_linear``) are memoised per arguments and default dtype, each module getting a deep
copy of the generated ``GraphModule`` (its own constant buffers; the same code). All give bit-identical
results (tests/nn/test_lean_build.py compares them with e3nn's own).
The patches are module attributes, swapped for the duration of the ``with`` block: do not build e3nn modules
from another thread meanwhile.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import types

__all__ = ["lean_e3nn_build", "memoised_moment", "full_tensor_product_irreps_out"]

_MOMENTS: dict = {}
_CODE: dict = {}
_LOCK = threading.RLock()


def _memoisable(f) -> bool:
    """A plain function or builtin without captured state (a module, a partial or a closure is recomputed)."""
    if isinstance(f, types.BuiltinFunctionType):
        return True
    return isinstance(f, types.FunctionType) and f.__closure__ is None


def memoised_moment(f, n, dtype=None, device=None):
    """``e3nn.math.moment(f, n, dtype, device)``, computed once per process for each ``(f, n, dtype, device)``
    (the function itself seeds its generator, so the value is a constant). Returns a fresh tensor each call."""
    from e3nn.math import _normalize_activation
    from e3nn.util.default_type import explicit_default_types

    compute = _normalize_activation.__dict__.get("_equispec_original_moment", _normalize_activation.moment)
    if not _memoisable(f):
        return compute(f, n, dtype, device)
    dtype, device = explicit_default_types(dtype, device)
    key = (f, n, dtype, str(device))
    with _LOCK:
        if key not in _MOMENTS:
            _MOMENTS[key] = compute(f, n, dtype, device)
        return _MOMENTS[key].clone()


def full_tensor_product_irreps_out(irreps_in1, irreps_in2):
    """``e3nn.o3.FullTensorProduct(irreps_in1, irreps_in2).irreps_out`` without building the product: the same
    steps as its ``__init__`` (inputs simplified; for every pair of irreps every ``ir_out`` in ``ir_1 * ir_2``
    with multiplicity ``mul_1 * mul_2``; sorted)."""
    from e3nn.o3 import Irreps

    irreps_in1 = Irreps(irreps_in1).simplify()
    irreps_in2 = Irreps(irreps_in2).simplify()
    out = [(mul_1 * mul_2, ir_out) for mul_1, ir_1 in irreps_in1 for mul_2, ir_2 in irreps_in2
           for ir_out in ir_1 * ir_2]
    return Irreps(out).sort().irreps


class _IrrepsOnlyFullTensorProduct:
    """What sevenn's ``infer_irreps_out`` reads of a ``FullTensorProduct``: its ``irreps_out``."""

    def __init__(self, irreps_in1, irreps_in2, filter_ir_out=None, irrep_normalization=None, **kwargs):
        if filter_ir_out is not None or kwargs:  # not a use this stand-in was checked for: build the real one
            from e3nn.o3 import FullTensorProduct

            self.irreps_out = FullTensorProduct(irreps_in1, irreps_in2, filter_ir_out, irrep_normalization,
                                                **kwargs).irreps_out
        else:
            self.irreps_out = full_tensor_product_irreps_out(irreps_in1, irreps_in2)


def _frozen(value):
    """A hashable stand-in for codegen arguments: lists and tuples (irreps, instructions and their path shapes)
    become tuples of their frozen items, tagged with their type."""
    if isinstance(value, (list, tuple)):
        return (type(value).__qualname__, tuple(_frozen(v) for v in value))
    return value


def _memoised_code(name: str, generate):
    """``generate(*args, **kwargs)`` (an e3nn code generator returning a ``GraphModule`` or a tuple starting
    with one) memoised per arguments and default dtype; every call gets a deep copy of the module."""
    import torch

    def memoised(*args, **kwargs):
        key = (name, _frozen(args), tuple(sorted((k, _frozen(v)) for k, v in kwargs.items())),
               torch.get_default_dtype())
        try:
            hash(key)
        except TypeError:
            return generate(*args, **kwargs)
        with _LOCK:
            if key not in _CODE:
                _CODE[key] = generate(*args, **kwargs)
            return copy.deepcopy(_CODE[key])

    return memoised


def _providers(providers: list, name: str):
    """One provider that asks ``providers`` in their order (as e3nn does) and memoises the first answer."""
    chain = list(providers)

    def first(*args):
        for provider in chain:
            graphmod = provider(*args)
            if graphmod is not None:
                return graphmod
        return None

    return _memoised_code(name, first)


@contextlib.contextmanager
def lean_e3nn_build():
    """While active: e3nn's activation moments are memoised (:func:`memoised_moment`), its generated code is
    memoised, and sevenn's ``util.infer_irreps_out`` builds no throw-away tensor product. Re-entrant (an inner
    use changes nothing); everything is put back when the outermost one exits."""
    global _DEPTH

    with _LOCK:
        _DEPTH += 1
        if _DEPTH == 1:
            try:
                restore = _patch()
            except BaseException:
                _DEPTH -= 1
                raise
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH -= 1
            if _DEPTH == 0:
                restore()


_DEPTH = 0


def _patch():
    """Swap in the lean versions; returns the function that puts the originals back."""
    from e3nn.math import _normalize_activation
    from e3nn.o3 import _linear
    from e3nn.o3._tensor_product import _tensor_product

    patches = [(_normalize_activation, "moment", memoised_moment),
               (_linear, "_codegen_linear", _memoised_code("linear", _linear._codegen_linear))]
    lists = [(_tensor_product._CODEGEN_PROVIDERS_LEFT_RIGHT, "left_right"),
             (_tensor_product._CODEGEN_PROVIDERS_RIGHT, "right")]
    try:
        import sevenn.util as sevenn_util
    except ImportError:
        sevenn_util = None
    if sevenn_util is not None and hasattr(sevenn_util, "FullTensorProduct"):
        patches.append((sevenn_util, "FullTensorProduct", _IrrepsOnlyFullTensorProduct))
    saved = [(module, name, getattr(module, name)) for module, name, _ in patches]
    saved_lists = [(providers, list(providers)) for providers, _ in lists]
    if "_equispec_original_moment" not in _normalize_activation.__dict__:
        _normalize_activation._equispec_original_moment = _normalize_activation.moment
    for module, name, value in patches:
        setattr(module, name, value)
    for providers, name in lists:  # the same list object: e3nn reads it at each build
        providers[:] = [_providers(providers, name)]

    def restore():
        for module, name, value in reversed(saved):
            setattr(module, name, value)
        for providers, contents in saved_lists:
            providers[:] = contents

    return restore
