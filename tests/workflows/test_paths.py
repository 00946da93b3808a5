"""The path workflows resolve a Materials Project id before reading the structure, and check the path
before any model is loaded."""

from __future__ import annotations

import pytest
from pymatgen.core import Structure

from equispec.errors import InputError
from tests.conftest import EXAMPLES


def test_an_id_is_resolved_and_a_bad_path_refused_before_the_model_loads(monkeypatch):
    import equispec.workflows.paths as paths

    silicon = Structure.from_file(str(EXAMPLES / "Si.cif"))
    asked = []
    monkeypatch.setattr(paths, "resolve_structures",
                        lambda inputs, names: (asked.append(list(inputs)), ([silicon], ["mp-149"]))[1])
    monkeypatch.setattr(paths, "as_predictor", lambda *a, **k: pytest.fail("the model loaded before the path check"))
    with pytest.raises(InputError, match=r"^--q-path: "):
        paths.dispersion("mp-149", "GAMMA -> NOWHERE")
    assert asked == [["mp-149"]]
