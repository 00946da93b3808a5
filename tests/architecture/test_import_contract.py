"""The layers of the package, checked by reading every import statement (lazy ones inside functions, and the
names of PEP 562 lazy exports, too).

From the bottom up, a part may import only parts of its own layer or below:

    base (keys, errors, units of io aside, the small helpers) < io < data < nn < models < physics < inference
    < analysis < plots < training < workflows (and api, its alias) < web (equispec serve) < cli

So ``data`` imports no ``nn`` (no network, no potentials) and ``inference`` imports no ``analysis``. The front
ends (``cli``, ``web``) import only the workflows, the figures, ``io`` and the errors (:data:`FRONT_ENDS`). Inside
the layers nothing may import in a circle: between parts, and between the modules of one package.
``scripts/`` sits on top; its benchmarks import public names only (tests/scripts/test_public_names.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

#: Parts of ``equispec`` (top-level modules and packages), bottom layer first.
LAYERS = [
    {"_lazy", "_version", "keys", "errors", "typed_fields", "devices", "broadening", "metrics", "engines"},
    {"io"},
    {"data"},
    {"nn"},
    {"models"},
    {"physics"},
    {"inference"},
    {"analysis"},
    {"plots"},
    {"training"},
    {"workflows", "api", "__init__"},
    {"web"},
    {"cli", "__main__"},
]
LAYER_OF = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}

#: The front ends are thin: the command line and the web page ask the workflows for work and for the names and
#: checks they offer users (``workflows.options``); besides that they only write files and figures and report
#: errors. Each may import these parts and nothing else below it.
FRONT_ENDS = {"cli": {"cli", "__main__", "web", "workflows", "plots", "io", "errors", "_version", "__init__"},
              "web": {"web", "workflows", "plots", "io", "errors", "_version", "__init__"}}
FRONT_ENDS["__main__"] = FRONT_ENDS["cli"]


def module_imports(src: Path, package: str = "equispec") -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports anywhere in its body (``from .x import name`` counts as
    an import of ``x.name`` where that is a module). Lazy exports (a ``_FROM`` table of name -> submodule)
    count as imports of those submodules."""
    root = src / package
    paths = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(src).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        paths[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.split(".")[: len(here.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                elif node.module and node.module.split(".")[0] == package:
                    target = node.module
                else:
                    continue
                for alias in node.names:
                    targets.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in paths else target)
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.split(".")[0] == package}
            elif isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_FROM" for t in node.targets) \
                    and isinstance(node.value, ast.Dict):
                targets |= {f"{here}.{v.value}" for v in node.value.values if isinstance(v, ast.Constant)}
        graph[name] = {t for t in targets if t != name and t in paths}
    return graph


def part_of(module: str) -> str:
    """``equispec.data.graphs`` -> ``data``; ``equispec`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(module, imported module) pairs that climb a layer, or touch a part that has no layer."""
    broken = []
    for module, targets in graph.items():
        for target in targets:
            own, other = part_of(module), part_of(target)
            if own not in LAYER_OF or other not in LAYER_OF or LAYER_OF[other] > LAYER_OF[own]:
                broken.append((module, target))
    return sorted(broken)


def front_end_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(module, imported module) pairs by which a front end reaches past the workflows."""
    return sorted((module, target) for module, targets in graph.items() for target in targets
                  if part_of(module) in FRONT_ENDS and part_of(target) not in FRONT_ENDS[part_of(module)])


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one node (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]

    def visit(start):
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def part_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    parts: dict[str, set[str]] = {}
    for module, targets in graph.items():
        own = part_of(module)
        parts.setdefault(own, set()).update(part_of(t) for t in targets if part_of(t) != own)
    return parts


def _without_package_inits(graph: dict[str, set[str]], src: Path = SRC) -> dict[str, set[str]]:
    """A package's ``__init__`` re-exports its modules, which import each other through it only by name:
    edges into an ``__init__`` from its own package's modules are left out of the module-cycle check."""
    inits = {m for m in graph if (src / Path(*m.split("."))).is_dir()}
    return {m: {t for t in ts if not (t in inits and m.startswith(t + "."))} for m, ts in graph.items()}


def test_every_part_has_a_layer():
    parts = {part_of(m) for m in module_imports(SRC)}
    assert not parts - set(LAYER_OF), f"parts without a layer: {sorted(parts - set(LAYER_OF))}"


def test_layers_import_only_downwards():
    broken = upward_imports(module_imports(SRC))
    assert not broken, "upward imports:\n" + "\n".join(f"{a} -> {b}" for a, b in broken)


def test_front_ends_reach_only_the_workflows():
    broken = front_end_imports(module_imports(SRC))
    assert not broken, "front ends reaching below workflows:\n" + "\n".join(f"{a} -> {b}" for a, b in broken)


def test_named_bans_hold():
    """The two bans the layer order implies and that matter most: data reads no network code, and
    predicting never calls scoring."""
    parts = part_graph(module_imports(SRC))
    assert "nn" not in parts.get("data", set())
    assert "analysis" not in parts.get("inference", set())


def test_no_cycles_between_parts():
    parts = part_graph(module_imports(SRC))
    found = cycles(parts)
    assert not found, f"import cycles between parts: {found}"


def test_no_cycles_between_modules():
    found = cycles(_without_package_inits(module_imports(SRC)))
    assert not found, f"import cycles between modules: {found}"


def test_the_checks_catch_a_planted_upward_import_and_cycle(tmp_path):
    """The checker is run on a copy of the package in which ``data`` imports ``inference``, two modules of
    ``io`` import each other and the command line reaches past the workflows into ``physics``: all three must
    be reported."""
    import shutil

    shutil.copytree(SRC / "equispec", tmp_path / "equispec")
    planted = tmp_path / "equispec" / "data" / "structures.py"
    planted.write_text(planted.read_text() + "\n\ndef _planted():\n    from ..inference import base  # noqa\n")
    for a, b in (("files", "units"), ("units", "files")):
        path = tmp_path / "equispec" / "io" / f"{a}.py"
        path.write_text(path.read_text() + f"\n\nfrom . import {b}  # noqa\n")
    cli = tmp_path / "equispec" / "cli" / "main.py"
    cli.write_text(cli.read_text() + "\n\ndef _planted():\n    from ..physics.cache import default_physics_cache_dir  # noqa\n")
    graph = module_imports(tmp_path)
    assert ("equispec.data.structures", "equispec.inference.base") in upward_imports(graph)
    assert front_end_imports(graph) == [("equispec.cli.main", "equispec.physics.cache")]
    module_cycles = cycles(_without_package_inits(graph, tmp_path))
    assert ["equispec.io.files", "equispec.io.units"] in module_cycles
    assert not upward_imports(module_imports(SRC)) and not front_end_imports(module_imports(SRC))


def test_nothing_in_the_package_imports_scripts():
    for path in (SRC / "equispec").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] == "scripts" for n in names), path



def test_each_potential_name_is_spelt_once_in_code():
    """``7net-0`` and every other potential or feature name appears as a string in one place only: the
    potentials' table (docstrings aside). Engine names (``sevenn``, ``chgnet``: packages) are not names of
    potentials, even where a potential shares one."""
    from equispec.nn.pretrained.table import FEATURES, POTENTIALS

    engines = {p.engine for p in POTENTIALS.values()}
    names = (set(POTENTIALS) | set(FEATURES) | {p.checkpoint for p in FEATURES.values()}) - engines
    where: dict[str, list[str]] = {}
    for path in (SRC / "equispec").rglob("*.py"):
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in names and id(node) not in docstrings:
                where.setdefault(node.value, []).append(str(path.relative_to(SRC)))
    assert where == {name: ["equispec/nn/pretrained/table.py"] for name in names}, where
