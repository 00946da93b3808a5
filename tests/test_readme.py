"""The README runs as written: every ```bash and ```python block of README.md is checked, and every CLI line
of README.md and docs/cli.md too.

- Python blocks run for real, from the project root, with ``../shared/data`` pointing at the data the tests
  use (``EQUISPEC_SHARED_DATA``).
- ``equispec`` lines: the subcommand exists and every option named (``--mode fast|physics|hybrid`` included,
  each alternative against the option's choices) is one that subcommand's parser accepts. Lines without
  placeholders must parse as they stand; the fast-mode ``predict`` lines among them are run for real.
- ``pip install`` lines name extras that ``pyproject.toml`` defines; ``pytest -m`` names registered markers.
"""

from __future__ import annotations

import argparse
import re
import shlex
import tomllib

import pytest

from equispec.cli.main import build_parser, main
from tests.conftest import ROOT, SHARED_DATA

README = ROOT / "README.md"
CLI_DOC = ROOT / "docs" / "cli.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(path, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(path.read_text()) if lang == language]


def shell_commands(path) -> list[str]:
    """The commands of a document's bash blocks: one per line, split at ``&&``, comments cut."""
    commands = []
    for body in blocks(path, "bash"):
        for line in body.splitlines():
            line = line.split("   #")[0].split("  # ")[0].strip()
            if line and not line.startswith("#"):
                commands += [part.strip() for part in line.split("&&")]
    return commands


def equispec_lines() -> list[tuple[str, str]]:
    return [(path.name, c) for path in (README, CLI_DOC) for c in shell_commands(path) if c.startswith("equispec ")]


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def resolve(tokens: list[str]) -> tuple[argparse.ArgumentParser, list[str]]:
    """The (sub)parser a command line addresses and the rest of its tokens."""
    parser, rest = build_parser(), tokens[1:]
    commands = subparsers(parser)
    names = rest[0].split("|")
    assert all(name in commands for name in names), f"unknown subcommand {rest[0]!r}"
    parser, rest = commands[names[0]], rest[1:]
    if names[0] == "data":  # data phdos|xas: check the kinds, options of the first
        kinds = subparsers(parser)
        assert all(kind in kinds for kind in rest[0].split("|")), f"unknown data kind {rest[0]!r}"
        parser, rest = kinds[rest[0].split("|")[0]], rest[1:]
    return parser, rest


def is_concrete(command: str) -> bool:
    """No placeholder (CAPITALS, ``[...]``, ``A|B``, ``...``): the line is meant to be typed as it is."""
    return not re.search(r"\[|\]|\||\.\.\.|\b[A-Z][A-Z_]{2,}\b", command.replace("ARCS", "").replace("MAPS", ""))


@pytest.mark.parametrize("where, command", equispec_lines())
def test_every_cli_line_names_options_the_parser_accepts(where, command):
    tokens = command.split()
    parser, rest = resolve(tokens)
    known = {s: a for a in parser._actions for s in a.option_strings}
    text = " ".join(rest)
    for option in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", text):
        assert option in known, f"{where}: {command!r}: {option} is not an option of this subcommand"
    for option, values in re.findall(r"(--[a-z][\w-]*) ([\w.|-]+)", text):
        choices = known[option].choices
        if choices is not None:
            for value in values.split("|"):
                if value != "..." and not value.startswith("-"):
                    assert value in choices, f"{where}: {command!r}: {option} {value} (choices: {choices})"
    if is_concrete(command):  # typed as it stands: it must parse (types, required options, choices)
        argv = shlex.split(command.replace("../shared/data", str(SHARED_DATA)))[1:]
        build_parser().parse_args(argv)


def test_the_readme_names_the_lines_users_need():
    lines = [c for _, c in equispec_lines()]
    assert any(c.startswith("equispec predict data/examples/Al.cif") for c in lines)
    sqe = [c for c in lines if c.startswith("equispec compare") and c.split()[3].endswith(".npz")]
    assert sqe and all("--instrument ARCS" in c and "--ei 120" in c for c in sqe)
    assert not re.search(r"\bissues? \d+|#\d+\b", README.read_text(), re.I), "issue numbers belong in docs/results.md"


def test_concrete_fast_predict_lines_run(tmp_path, monkeypatch, capsys):
    """The README's fast-mode ``predict`` lines, run from a scratch folder with the examples' real paths."""
    monkeypatch.chdir(tmp_path)
    runnable = [c for _, c in equispec_lines() if c.startswith("equispec predict") and is_concrete(c)
                and "--mode" not in c]
    assert runnable
    for command in runnable:
        argv = shlex.split(command.replace("data/examples/", f"{ROOT / 'data' / 'examples'}/"))[1:]
        assert main(argv) == 0, command
    printed = capsys.readouterr()
    assert "Al.cif: Al, 1 atoms" in printed.out and "expected MSE" in printed.out
    assert "--mode hybrid" in printed.err  # Al is flagged as beyond the valid distribution


def test_install_and_test_lines_name_what_exists():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = set(project["project"]["optional-dependencies"])
    markers = {m.split(":")[0] for m in project["tool"]["pytest"]["ini_options"]["markers"]}
    commands = shell_commands(README)
    installs = [c for c in commands if c.startswith("pip install")]
    assert installs
    for command in installs:
        for named in re.findall(r"\.\[([\w,]+)\]", command):
            assert set(named.split(",")) <= extras, command
    assert "all" in extras and set(project["project"]["optional-dependencies"]["all"]) >= {
        *project["project"]["optional-dependencies"]["physics"], *project["project"]["optional-dependencies"]["neutron"]}
    for command in (c for c in commands if "pytest" in c):
        tokens = shlex.split(command)
        tokens = tokens[tokens.index("pytest") + 1:] if "pytest" in tokens else tokens
        for flag, expression in zip(tokens, tokens[1:]):
            if flag == "-m":
                assert set(expression.split()) - {"not", "and", "or"} <= markers, command
        assert "pytest-randomly" in " ".join(project["project"]["optional-dependencies"]["test"]) or \
            "randomly" not in command


@pytest.mark.slow
def test_python_blocks_run(monkeypatch, capsys):
    """Each Python block, executed as it stands from the project root (about a minute: it scores the valid
    split, runs physics on diamond and its neutron map)."""
    monkeypatch.chdir(ROOT)
    code = blocks(README, "python")
    assert code
    for body in code:
        exec(compile(body.replace("../shared/data", str(SHARED_DATA)), str(README), "exec"), {"__name__": "readme"})
