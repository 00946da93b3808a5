"""Running the real CLI in a subprocess for the fault tests, and checking what a user sees."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

from tests.conftest import EXAMPLES, ROOT

#: Address-space cap of every CLI run here: a run that grows without bound (main's dense cells) dies in
#: its allocation instead of taking the machine; a normal predict peaks at about 1.5 GB of address space.
ADDRESS_SPACE_BYTES = 6 * 1024 ** 3


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))


def cli_env(**extra: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", LC_ALL="C.UTF-8", PYTHONIOENCODING="utf-8")
    # the runs change folder: this checkout's code, whatever a relative PYTHONPATH said
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *(str(Path(p).resolve()) for p in
                                                             env.get("PYTHONPATH", "").split(os.pathsep) if p)])
    for hook in ("EQUISPEC_FAULT_SIGNAL", "EQUISPEC_FAULT_OSERROR"):
        env.pop(hook, None)
    env.update(extra)
    return env


def command(*args) -> list:
    return [sys.executable, "-m", "equispec", *map(lambda a: a if isinstance(a, bytes) else str(a), args)]


def run(*args, cwd: Path, timeout: float = 300, **hooks: str) -> subprocess.CompletedProcess:
    """``equispec ARGS`` in ``cwd``, with the fault hooks given as keyword arguments."""
    return subprocess.run(command(*args), cwd=cwd, env=cli_env(**hooks), capture_output=True, timeout=timeout,
                          preexec_fn=_cap)


def start(*args, cwd: Path, **hooks: str) -> subprocess.Popen:
    return subprocess.Popen(command(*args), cwd=cwd, env=cli_env(**hooks), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=_cap)


def error_line(result) -> str:
    """The one line a refused run prints: exit status 2, ``equispec: error: ...``, no traceback."""
    err = result.stderr.decode("utf-8", "replace") if isinstance(result.stderr, bytes) else result.stderr
    lines = err.strip().splitlines()
    assert result.returncode == 2, (result.returncode, err[-2000:])
    assert len(lines) == 1 and lines[0].startswith("equispec: error: "), err[-2000:]
    return lines[0]


def ok(result) -> str:
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 0, err[-2000:]
    assert "Traceback" not in err
    return result.stdout.decode("utf-8")


def example(name: str, folder: Path, as_name: str | bytes | None = None) -> Path | bytes:
    """A copy of a bundled example structure in ``folder`` (the tests never write beside the originals)."""
    data = (EXAMPLES / name).read_bytes()
    if isinstance(as_name, bytes):
        target = os.fsencode(folder) + b"/" + as_name
        with open(target, "wb") as handle:
            handle.write(data)
        return target
    target = folder / (as_name or name)
    target.write_bytes(data)
    return target


def overlapping_cif(folder: Path) -> Path:
    """Si with two atoms 0.1 Å apart: refused in the input checks, before any record."""
    path = folder / "overlapping.cif"
    text = (EXAMPLES / "Si.cif").read_text()
    lines = text.splitlines()
    site = next(line for line in lines if line.strip().startswith("Si") and len(line.split()) >= 6)
    parts = site.split()
    moved = [parts[0], "Si9", parts[2], f"{float(parts[3]) + 0.02:.5f}", *parts[4:]]
    path.write_text(text.rstrip("\n") + "\n  " + " ".join(moved) + "\n")
    return path


def listing(folder: Path) -> list[str]:
    return sorted(os.fsdecode(name) for name in os.listdir(folder))
