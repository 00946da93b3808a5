"""Start-up stays light (issue 24): ``import equispec``, ``equispec --help`` and a command refused for its
arguments load neither torch nor PyG, e3nn or pymatgen. Each case runs in a fresh interpreter (this one has
torch loaded already) and reports the heavy packages that ended up in ``sys.modules``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "torch_geometric", "e3nn", "pymatgen", "sevenn", "scipy")

_PROBE = """
import contextlib, io, json, sys
{body}
heavy = sorted({{name.split(".")[0] for name in sys.modules}} & set({heavy!r}))
print(json.dumps(heavy))
"""

_RUN_CLI = """
from equispec.cli.main import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        code = main({argv!r})
    except SystemExit as exc:
        code = exc.code
assert code in (0, 2), code
"""


def _heavy_modules(body: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", _PROBE.format(body=body, heavy=HEAVY)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_import_equispec_loads_no_torch():
    assert _heavy_modules("import equispec\nequispec.__version__") == []


@pytest.mark.parametrize("argv", [
    ["--help"],
    ["predict", "--help"],
    ["--version"],
    ["predict", "--bogus-option"],  # argparse refuses it
    ["predict"],  # no input: refused by equispec before any model loads
    ["predict", "x.cif", "--mode", "fast", "--cache", "somewhere"],  # an option that does not fit the mode
    ["predict", "x.cif", "--ei", "30"],  # a neutron option without --ins
], ids=lambda argv: " ".join(argv))
def test_cli_help_and_argument_errors_load_no_torch(argv):
    assert _heavy_modules(_RUN_CLI.format(argv=argv)) == []


def test_python_m_equispec_help_loads_no_torch():
    body = ("import runpy\nsys.argv = ['equispec', '--help']\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        runpy.run_module('equispec', run_name='__main__')\n"
            "    except SystemExit as exc:\n        assert exc.code == 0, exc.code\n")
    assert _heavy_modules(body) == []
