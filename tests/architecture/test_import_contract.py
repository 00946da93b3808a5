"""The layers of the package, checked by reading every import statement (lazy ones inside functions too):

- ``nn`` and ``data`` import nothing from ``models``, ``training``, ``analysis``, the API or the CLI;
- ``io`` imports nothing from ``models``;
- ``analysis`` imports nothing from the API or the CLI;
- no cycles between the top-level parts of the package.

The contract does not hold yet (issue 16 is open): ``KNOWN`` lists the imports that break it today, so that
this test fails on any new one and, once one is fixed, on its entry here (remove it).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "equispec"

FORBIDDEN = {
    "nn": {"models", "training", "analysis", "api", "cli", "inference"},
    "data": {"models", "training", "analysis", "api", "cli", "inference"},
    "io": {"models"},
    "analysis": {"api", "cli"},
}


#: Layer breaches and the import edges that close cycles, as of 2026-12-01; the list may only shrink.
KNOWN = {
    ("physics", "analysis"),  # with analysis -> physics (S(Q,E) comparisons): a cycle
}


def _part(module: str) -> str:
    """``equispec.data.graphs`` -> ``data``; ``equispec.api`` -> ``api``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports() -> dict[str, set[str]]:
    """Top-level part -> the parts it imports (itself excluded)."""
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC.parent).with_suffix("")
        module = ".".join(relative.parts[:-1] if relative.name == "__init__" else relative.parts)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        own = _part(module if path.name != "__init__.py" or "." in module else module + ".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                    targets = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
                elif node.module and node.module.startswith("equispec"):
                    targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("equispec")]
            for target in targets:
                other = _part(target)
                if other != own and target != "equispec":
                    graph.setdefault(own, set()).add(other)
    return graph


def test_layers_import_only_downwards():
    graph = imports()
    broken = {(part, other) for part, banned in FORBIDDEN.items() for other in graph.get(part, ()) & banned}
    assert not broken - KNOWN, f"forbidden imports: {sorted(broken - KNOWN)}"
    fixed = {edge for edge in KNOWN if edge[1] not in graph.get(edge[0], ())}
    assert not fixed, f"no longer imported, remove from KNOWN: {sorted(fixed)}"


def test_no_cycles_between_parts():
    graph = imports()
    leaves = {"errors", "keys", "_version", "typed_fields", "__init__"}
    edges = {a: {b for b in bs if b not in leaves and b != "__init__"} for a, bs in graph.items() if a not in leaves}

    def cycle_from(start):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in edges.get(node, ()):
                if nxt == start:
                    return path + [start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
        return None

    for edge in KNOWN:  # the known ones are cut; any cycle left is new
        edges.get(edge[0], set()).discard(edge[1])
    cycles = [c for c in (cycle_from(part) for part in edges) if c]
    assert not cycles, f"import cycles: {cycles}"
