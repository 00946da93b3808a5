"""``lean_e3nn_build`` (issue 24) builds the same modules as e3nn and sevenn do, only faster: its constants and
irreps equal theirs bit for bit, the models it builds compute the same numbers, and nothing stays patched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from e3nn import o3
from e3nn.math import _normalize_activation, normalize2mom
from e3nn.o3._tensor_product import _tensor_product

from equispec.nn import lean_build
from equispec.nn.lean_build import full_tensor_product_irreps_out, lean_e3nn_build, memoised_moment

ROOT = Path(__file__).resolve().parents[2]


def _original_moment():
    return _normalize_activation.__dict__.get("_equispec_original_moment", _normalize_activation.moment)


@pytest.mark.parametrize("f", [torch.nn.functional.silu, torch.sigmoid, torch.tanh, torch.abs],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_memoised_moment_is_e3nns_moment_bit_for_bit(f, dtype, monkeypatch):
    expected = _original_moment()(f, 2, dtype=dtype)
    monkeypatch.setattr(lean_build, "_MOMENTS", {})
    first, second = memoised_moment(f, 2, dtype=dtype), memoised_moment(f, 2, dtype=dtype)
    assert first.dtype == expected.dtype and torch.equal(first, expected) and torch.equal(second, expected)
    assert first is not second  # a fresh tensor each time: a caller may change it in place
    assert len(lean_build._MOMENTS) == 1  # computed once


def test_normalize2mom_constants_are_unchanged():
    for f in (torch.nn.functional.silu, torch.sigmoid, torch.tanh):
        plain = normalize2mom(f).cst
        with lean_e3nn_build():
            lean, again = normalize2mom(f).cst, normalize2mom(f).cst
        assert plain == lean == again


def test_moment_of_a_closure_or_module_is_not_memoised(monkeypatch):
    monkeypatch.setattr(lean_build, "_MOMENTS", {})
    scale = 2.0
    closure = lambda x: scale * torch.tanh(x)  # noqa: E731 (captures state: recomputed each time)
    assert torch.equal(memoised_moment(closure, 2, torch.float64), _original_moment()(closure, 2, torch.float64))
    memoised_moment(torch.nn.SiLU(), 2, torch.float64)
    assert lean_build._MOMENTS == {}


@pytest.mark.parametrize("irreps", [
    ("128x0e", "1x0e+1x1e+1x2e"),
    ("128x0e+64x1e+32x2e", "1x0e+1x1o+1x2e+1x3o"),
    ("32x0e+32x0o+16x1o+16x1e+8x2e+4x3o", "1x0e+1x1o+1x2e"),
    ("3x1o+2x0e+1x1o", "2x1e+1x0o"),  # not simplified, not sorted
    ("0x0e+2x1o", "1x0e"),
])
def test_full_tensor_product_irreps_out_without_building_it(irreps):
    assert full_tensor_product_irreps_out(*irreps) == o3.FullTensorProduct(*irreps).irreps_out


def test_sevenns_irreps_are_unchanged_for_its_potentials(monkeypatch):
    """Every ``infer_irreps_out`` call building SevenNet-0 and -l3i5 gives sevenn's own answer."""
    sevenn_util = pytest.importorskip("sevenn.util")
    original = sevenn_util.infer_irreps_out
    calls = []

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return original(*args, **kwargs)

    monkeypatch.setattr(sevenn_util, "infer_irreps_out", spy)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        with lean_e3nn_build():
            for name in ("7net-0", "7net-l3i5"):
                sevenn_util.load_checkpoint(name).build_model()
    finally:
        torch.set_default_dtype(previous)
    assert len(calls) >= 10
    monkeypatch.undo()
    for args, kwargs in calls:
        with lean_e3nn_build():
            lean = sevenn_util.infer_irreps_out(*args, **kwargs)
        assert lean == sevenn_util.infer_irreps_out(*args, **kwargs), args


def _phdos_members():
    info = json.loads((ROOT / "checkpoints" / "phdos" / "model.json").read_text())
    return [(m["architecture"], m["hyperparameters"]) for m in info["members"]]


def test_models_built_lean_compute_what_plainly_built_ones_do(float64, monkeypatch):
    """Two members of the shipped ensemble built with and without the lean build: the same parameters,
    buffers and generated code, and the same output to the last bit."""
    from equispec.data.graphs import collate, structure_to_graph
    from equispec.models.build import build_model
    from pymatgen.core import Lattice, Structure

    members = _phdos_members()[:2]
    torch.manual_seed(0)
    lean = [build_model(a, h) for a, h in members]
    monkeypatch.setattr(lean_build, "_patch", lambda: (lambda: None))  # build_model's lean build does nothing
    torch.manual_seed(0)
    plain = [build_model(a, h) for a, h in members]
    monkeypatch.undo()
    structure = Structure(Lattice.cubic(4.1), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.52]])
    hyper = members[0][1]
    graph = structure_to_graph(structure, hyper["cutoff_ang"], pyg=False)
    if hyper.get("pretrained"):
        graph["node_pretrained"] = torch.randn(len(structure), 640, generator=torch.Generator().manual_seed(1))
    batch = collate([graph])
    for a, b in zip(lean, plain):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
        codes = lambda m: [str(c.code) for n, c in m.named_modules() if isinstance(c, torch.fx.GraphModule)]  # noqa: E731
        assert codes(a) == codes(b)
        out_a, out_b = a.eval()(batch), b.eval()(batch)
        assert all(torch.equal(out_a[k], out_b[k]) for k in out_a)


def test_lean_build_restores_everything_and_nests():
    import sevenn.util as sevenn_util

    before = (_normalize_activation.moment, list(_tensor_product._CODEGEN_PROVIDERS_LEFT_RIGHT),
              list(_tensor_product._CODEGEN_PROVIDERS_RIGHT), o3._linear._codegen_linear,
              sevenn_util.FullTensorProduct)
    with lean_e3nn_build():
        assert _normalize_activation.moment is memoised_moment
        inner_state = _normalize_activation.moment, list(_tensor_product._CODEGEN_PROVIDERS_LEFT_RIGHT)
        with lean_e3nn_build():
            assert (_normalize_activation.moment, list(_tensor_product._CODEGEN_PROVIDERS_LEFT_RIGHT)) == inner_state
        assert _normalize_activation.moment is memoised_moment  # the inner exit leaves the outer patches
        with pytest.raises(RuntimeError):
            with lean_e3nn_build():
                raise RuntimeError("boom")
    after = (_normalize_activation.moment, list(_tensor_product._CODEGEN_PROVIDERS_LEFT_RIGHT),
             list(_tensor_product._CODEGEN_PROVIDERS_RIGHT), o3._linear._codegen_linear,
             sevenn_util.FullTensorProduct)
    assert after == before and lean_build._DEPTH == 0
