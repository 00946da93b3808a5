"""scripts/bench imports equispec's public names only: those of ``equispec.__all__`` and ``equispec.workflows.__all__``.

Every ``.py`` under scripts/bench is read with ``ast`` (nothing is imported or run): ``import equispec.X``,
``from equispec[.X] import N``, ``importlib.import_module("equispec.X")`` and attributes read off an imported
equispec module (``equispec.N``, ``workflows.N``) must all name public things. What the returned objects offer
(``load_model(...).predict_graphs``) is theirs to keep stable and is not checked here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

BENCH = ROOT / "scripts" / "bench"
PACKAGE, WORKFLOWS = "equispec", "equispec.workflows"


def violations(source: str, public: dict[str, set[str]], filename: str = "<source>") -> list[str]:
    """``file:line: what`` for every non-public equispec name ``source`` imports or reads.

    ``public`` maps each public module (``equispec``, ``equispec.workflows``) to its ``__all__``."""
    found = []
    aliases: dict[str, str] = {}  # local name -> the public module it is bound to

    def bad(node, what):
        found.append(f"{filename}:{node.lineno}: {what}")

    def check_module(node, module: str) -> bool:
        """``module`` (``equispec...``) may be imported at all."""
        if module in public:
            return True
        bad(node, f"imports {module} (public modules: {', '.join(sorted(public))})")
        return False

    def check_name(node, module: str, name: str):
        if name == "*" or name in public[module] or f"{module}.{name}" in public or name.startswith("__"):
            return
        bad(node, f"{module}.{name} is not in {module}.__all__")

    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != PACKAGE:
                    continue
                if check_module(node, alias.name):
                    # `import equispec.workflows` binds `equispec`; `... as w` binds the submodule itself
                    aliases[alias.asname or PACKAGE] = alias.name if alias.asname else PACKAGE
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level or module.split(".")[0] != PACKAGE:
                continue
            if check_module(node, module):
                for alias in node.names:
                    check_name(node, module, alias.name)
                    if f"{module}.{alias.name}" in public:
                        aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
        elif isinstance(node, ast.Call):
            function = node.func
            name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
            if name in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str) and node.args[0].value.split(".")[0] == PACKAGE:
                check_module(node, node.args[0].value)
    # attributes read off the imported modules: equispec.N, equispec.workflows.N, w.N
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        chain, base = [node.attr], node.value
        while isinstance(base, ast.Attribute):
            chain.insert(0, base.attr)
            base = base.value
        if not isinstance(base, ast.Name) or base.id not in aliases:
            continue
        module = aliases[base.id]
        for attr in chain:  # walk down through public submodules; the first other name must be public
            if f"{module}.{attr}" in public:
                module = f"{module}.{attr}"
                continue
            check_name(node, module, attr)
            break
    return sorted(set(found))


def bench_files() -> list[Path]:
    return sorted(BENCH.rglob("*.py"))


TOY_PUBLIC = {PACKAGE: {"load_model", "EquispecError", "__version__"}, WORKFLOWS: {"read_ids", "physics_dos"}}


@pytest.mark.parametrize("source", [
    "import equispec\nequispec.load_model('phdos').predict_graphs([])\nequispec.__file__",
    "from equispec import EquispecError, load_model",
    "from equispec.workflows import read_ids, physics_dos",
    "import equispec.workflows\nequispec.workflows.read_ids('x')",
    "import equispec.workflows as w\nw.physics_dos(None)",
    "from equispec import workflows\nworkflows.read_ids('x')",
    "import importlib\nimportlib.import_module('equispec.workflows')",
    "import numpy\nfrom sevenn.calculator import SevenNetCalculator\nnumpy.keys",
])
def test_public_uses_pass(source):
    assert violations(source, TOY_PUBLIC) == []


@pytest.mark.parametrize("source, what", [
    ("from equispec import keys", "equispec.keys is not in equispec.__all__"),
    ("from equispec.data.datasets import read_ids", "imports equispec.data.datasets"),
    ("import equispec.inference.base as base", "imports equispec.inference.base"),
    ("import equispec.physics", "imports equispec.physics"),
    ("from equispec.workflows import build_graphs", "equispec.workflows.build_graphs is not in"),
    ("import equispec\nequispec.api.load_model('phdos')", "equispec.api is not in equispec.__all__"),
    ("import equispec.workflows as w\nw.pretrained_features([])", "equispec.workflows.pretrained_features"),
    ("from equispec import workflows\nworkflows.read_phdos_csv('x')", "equispec.workflows.read_phdos_csv"),
    ("import importlib\nimportlib.import_module('equispec.nn.sevennet')", "imports equispec.nn.sevennet"),
    ("def f():\n    from equispec.metrics import spectrum_metrics", "imports equispec.metrics"),
])
def test_internal_uses_are_named(source, what):
    found = violations(source, TOY_PUBLIC)
    assert len(found) == 1 and what in found[0], found


def test_scripts_bench_imports_public_names_only():
    import equispec

    workflows = pytest.importorskip(WORKFLOWS, reason="equispec.workflows is not written yet")
    if not hasattr(workflows, "__all__"):
        pytest.skip("equispec.workflows has no __all__ yet")
    public = {PACKAGE: set(equispec.__all__), WORKFLOWS: set(workflows.__all__)}
    files = bench_files()
    assert any(path.name == "bench.py" for path in files), f"no bench.py under {BENCH}"
    found = [v for path in files for v in violations(path.read_text(), public, str(path.relative_to(ROOT)))]
    assert not found, "scripts/bench uses names outside equispec.__all__ and equispec.workflows.__all__:\n" + \
        "\n".join(found)
