"""Modes are strategy types, and physics mode never reads the network's weights."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from equispec.errors import ModelError
from equispec.inference import load_predictor, resolve_model_dir
from equispec.inference.phonon import MODES, FastMode, HybridMode, PhysicsMode
from tests.conftest import EXAMPLES


def test_each_mode_is_a_strategy_type():
    assert MODES == {"fast": FastMode, "physics": PhysicsMode, "hybrid": HybridMode}
    assert [mode.uses_network for mode in MODES.values()] == [True, False, True]
    assert [mode.uses_physics for mode in MODES.values()] == [False, True, True]
    assert [mode.uses_hybrid for mode in MODES.values()] == [False, False, True]
    predictor = load_predictor("phdos")
    assert isinstance(predictor.strategy, FastMode) and predictor.mode == "fast"


def test_the_command_line_offers_exactly_the_modes_there_are():
    """The parser names the modes without importing torch; it must name these (the web page: tests/web)."""
    import argparse

    from equispec.cli.main import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    for command in ("predict", "evaluate", "compare"):
        mode = next(a for a in commands[command]._actions if a.dest == "mode")
        assert tuple(mode.choices) == tuple(MODES), command


def _damaged_copy(tmp_path):
    """The shipped phonon model with its weights file replaced by bytes that fail the SHA-256 check."""
    copy = tmp_path / "phdos"
    shutil.copytree(resolve_model_dir("phdos"), copy)
    (copy / "model.safetensors").write_bytes(b"not weights")
    return copy


def test_physics_mode_loads_without_reading_the_weights(tmp_path, monkeypatch):
    copy = _damaged_copy(tmp_path)
    with pytest.raises(ModelError, match="SHA-256 differs"):  # fast mode reads them and refuses them
        load_predictor(copy)

    import safetensors.torch

    def refuse(*args, **kwargs):
        raise AssertionError("physics mode read network weights")

    monkeypatch.setattr(safetensors.torch, "load_file", refuse)
    predictor = load_predictor(copy, mode="physics")
    assert predictor.model is None and isinstance(predictor.strategy, PhysicsMode)
    assert predictor.freq_cm1.shape == (51,) and "Si" in predictor.elements


@pytest.mark.slow
def test_physics_mode_predicts_without_the_weights(tmp_path):
    """The same physics DOS from a model directory whose weights are damaged as from the shipped one. One
    thread: on two, float32 sums in another order move this DOS by ~1e-4 (docs/physics.md); on one, the two
    runs agree to 1e-10."""
    import torch

    silicon = EXAMPLES / "Si.cif"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        damaged = load_predictor(_damaged_copy(tmp_path), mode="physics").predict(silicon)[0]
        shipped = load_predictor("phdos", mode="physics").predict(silicon)[0]
    finally:
        torch.set_num_threads(threads)
    assert damaged.mode == "physics" and damaged.physics["potential"] == shipped.physics["potential"]
    np.testing.assert_allclose(damaged.dos, shipped.dos, rtol=0, atol=1e-8)
