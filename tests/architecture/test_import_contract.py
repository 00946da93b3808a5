"""The layers of the package, checked by reading every import statement (lazy ones inside functions too):

- ``nn`` and ``data`` import nothing from ``models``, ``training``, ``analysis``, ``inference``, the API or the CLI;
- ``models`` imports nothing from ``training``, ``analysis``, ``inference``, the API or the CLI;
- ``io`` imports nothing from ``models`` or ``inference``;
- ``inference`` and ``analysis`` import nothing from ``training``, the API or the CLI;
- no cycles between the top-level parts of the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "equispec"

FORBIDDEN = {
    "nn": {"models", "training", "analysis", "api", "cli", "inference"},
    "data": {"models", "training", "analysis", "api", "cli", "inference"},
    "models": {"training", "analysis", "api", "cli", "inference"},
    "io": {"models", "inference"},
    "inference": {"training", "api", "cli"},
    "analysis": {"training", "api", "cli"},
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
    assert not broken, f"forbidden imports: {sorted(broken)}"


def test_no_cycles_between_parts():
    graph = imports()
    leaves = {"errors", "keys", "_version", "typed_fields", "broadening", "__init__"}
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

    cycles = [c for c in (cycle_from(part) for part in edges) if c]
    assert not cycles, f"import cycles: {cycles}"
