"""The import contract says what may import what; this checks what calls what while a physics-mode comparison
runs. Every call from one equispec module into another is recorded with a profiler; none may enter a higher
layer than the caller's, and the work must pass workflows -> inference -> physics (-> nn for the forces), then
analysis for the scores, in that order."""

from __future__ import annotations

import sys

import pytest

from tests.architecture.test_import_contract import LAYER_OF, part_of
from tests.conftest import EXAMPLES, SHARED_DATA

V_DOS = SHARED_DATA / "measured" / "phdos" / "multiphonon" / "V_ARCS_Ei120meV_300K_dos.csv"


def _record_calls(work) -> tuple[object, list[tuple[str, str, str, str]]]:
    """``work()``'s result and its calls between equispec modules, in the order first made: (caller module,
    caller function, callee module, callee function). Module bodies run by an import are not calls."""
    seen: dict[tuple[str, str, str, str], None] = {}

    def profile(frame, event, arg):
        if event != "call" or frame.f_code.co_name == "<module>":
            return
        callee = frame.f_globals.get("__name__", "")
        if not callee.startswith("equispec"):
            return
        caller = frame.f_back
        while caller is not None and not caller.f_globals.get("__name__", "").startswith("equispec"):
            caller = caller.f_back  # through numpy, phonopy, torch... to the equispec code that called them
        if caller is not None and caller.f_globals["__name__"] != callee:
            seen.setdefault((caller.f_globals["__name__"], caller.f_code.co_name, callee, frame.f_code.co_name))

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        result = work()
    finally:
        sys.setprofile(previous)
    return result, list(seen)


@pytest.mark.slow  # forces from a real universal potential (about 10 s)
def test_compare_in_physics_mode_only_calls_down(one_thread):
    from equispec import workflows

    comparison, calls = _record_calls(lambda: workflows.compare(EXAMPLES / "V.cif", V_DOS, "phdos", mode="physics"))
    assert comparison.scores["cosine"] > 0

    upward = [call for call in calls if LAYER_OF[part_of(call[2])] > LAYER_OF[part_of(call[0])]]
    assert not upward, "calls into a higher layer:\n" + "\n".join(f"{a}::{f} -> {b}::{g}" for a, f, b, g in upward)

    def first(module_prefix: str, function: str | None = None) -> int:
        return next(k for k, call in enumerate(calls)
                    if call[2].startswith(module_prefix) and function in (None, call[3]))

    # (the workflow asks analysis.compare whether the options apply before predicting: a check, not scoring)
    assert first("equispec.inference") < first("equispec.physics") < first("equispec.nn.pretrained.forces") \
        < first("equispec.analysis.compare", "compare_spectra")
    forces = [call for call in calls if call[2] == "equispec.nn.pretrained.forces"]
    assert forces and all(call[0].startswith("equispec.physics") for call in forces)
    scoring = [call for call in calls if call[2] == "equispec.analysis.compare"]
    assert {call[0] for call in scoring} == {"equispec.workflows.comparing"}
