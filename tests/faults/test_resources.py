"""Bounded resources (issue 23): dense cells and alias-bomb configs are refused in one line, before they
allocate, measured by the peak resident memory of the real CLI.

Measured 2026-12-02 on the 2-core, 23 GB development machine with ``/usr/bin/time -v`` (maximum resident
set size): ``equispec predict`` of the dense 2028-atom Al cell (1.00 Å³ per atom; about 1.06 million edges
at 5 Å, 35.6 GB by the estimate) is refused at 0.54 GB (main grew it to 7.9 GB under a 10 GB cap and died
in an allocation); the 10 000-atom cell at 1.03 Å³ per atom (5.1 million edges, over the ceiling) at
0.67 GB; ``train bomb.yaml --check`` at 0.50 GB (8.5 s wall, start-up on a loaded machine). ``predict Si.cif``, for scale, peaks
at 0.59-0.63 GB.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.faults.cli import cli_env, command, error_line

#: What "refused before allocating" means here: the interpreter, torch, pymatgen and the model (0.5 GB)
#: and no graph.
REFUSAL_PEAK_BYTES = 1.0e9


def peak_rss(*args, cwd, timeout=300):
    """``(result, peak resident bytes)`` of one CLI run: ``/usr/bin/time -v`` where it is installed, else a
    fresh Python parent that reads its only child's ``ru_maxrss``. Runs under the address-space cap."""
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (6 * 1024 ** 3, 6 * 1024 ** 3)); "
    cli = command(*args)
    if shutil.which("time") and os.path.exists("/usr/bin/time"):
        result = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", limit +
                                 f"import runpy, sys; sys.argv = {['equispec', *cli[3:]]!r}; "
                                 "runpy.run_module('equispec', run_name='__main__')"],
                                cwd=cwd, env=cli_env(), capture_output=True, timeout=timeout, text=True)
        lines = result.stderr.splitlines()
        peak = next(int(line.split(":")[1]) for line in lines if "Maximum resident set size" in line) * 1024
        result.stderr = "\n".join(line for line in lines if not line.startswith(("\t", "Command exited")))
    else:
        result = subprocess.run([sys.executable, "-c", limit + "import resource, subprocess, sys; "
                                 f"r = subprocess.run({cli!r}); print(resource.getrusage(resource.RUSAGE_CHILDREN)"
                                 ".ru_maxrss, file=sys.stderr); sys.exit(r.returncode)"],
                                cwd=cwd, env=cli_env(), capture_output=True, timeout=timeout, text=True)
        *rest, last = result.stderr.strip().splitlines()
        peak, result.stderr = int(last) * 1024, "\n".join(rest)
    return result, peak


def dense_fcc_poscar(path, cells: tuple[int, int, int], volume_per_atom: float):
    """Al on an fcc lattice squeezed to ``volume_per_atom`` (Å³): a legal cell (atoms 1.1 Å apart) whose
    5 Å neighbour sphere holds about 520 atoms."""
    a = (4 * volume_per_atom) ** (1 / 3)
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    grid = np.stack(np.meshgrid(*map(np.arange, cells), indexing="ij"), -1).reshape(-1, 1, 3)
    frac = ((grid + basis) / np.array(cells)).reshape(-1, 3)
    lattice = np.diag(np.array(cells) * a)
    lines = ["dense Al", "1.0", *(" ".join(f"{x:.10f}" for x in row) for row in lattice), "Al", str(len(frac)),
             "Direct", *(" ".join(f"{x:.10f}" for x in row) for row in frac)]
    path.write_text("\n".join(lines) + "\n")
    return len(frac)


@pytest.mark.parametrize("cells, volume, atoms", [((13, 13, 3), 1.0001, 2028), ((25, 10, 10), 1.03, 10_000)])
def test_dense_cells_are_refused_before_they_allocate(tmp_path, cells, volume, atoms):
    assert dense_fcc_poscar(tmp_path / "POSCAR", cells, volume) == atoms
    result, peak = peak_rss("predict", "POSCAR", "-o", "out.csv", cwd=tmp_path)
    line = error_line(result)
    edges = int(re.search(r"POSCAR: about ([\d,]+) neighbour-graph edges at 5 Å", line).group(1).replace(",", ""))
    assert edges == pytest.approx(atoms * 4 / 3 * np.pi * 5.0 ** 3 / volume, rel=1e-3)  # density x sphere x atoms
    assert f"({atoms} atoms" in line and ("memory budget (predict --max-memory" in line or "over the ceiling" in line)
    assert peak < REFUSAL_PEAK_BYTES, f"peak {peak / 1e9:.2f} GB"
    assert sorted(os.listdir(tmp_path)) == ["POSCAR"]


def test_max_memory_sets_the_budget_and_the_edge_ceiling_holds_on_any_machine(tmp_path):
    dense_fcc_poscar(tmp_path / "POSCAR", (3, 3, 3), 2.0)  # 108 atoms, 28 000 edges: about 1.5 GB
    line = error_line(subprocess.run(command("predict", "POSCAR", "--max-memory", "1G"), cwd=tmp_path, env=cli_env(),
                                     capture_output=True, text=True, timeout=300))
    assert "over the 1 GB memory budget (predict --max-memory" in line
    assert "--max-memory: expected a size such as 8G or 500M, got 'lots'" in error_line(subprocess.run(
        command("predict", "POSCAR", "--max-memory", "lots"), cwd=tmp_path, env=cli_env(), capture_output=True,
        text=True, timeout=300))
    from pymatgen.core import Structure

    from equispec.data.structures import MAX_GRAPH_EDGES, check_graph_size
    from equispec.errors import InputError

    structure = Structure.from_file(tmp_path / "POSCAR")
    with pytest.raises(InputError, match=f"over the ceiling of {MAX_GRAPH_EDGES:,} edges"):
        check_graph_size(structure * (8, 8, 8), 5.0, "big")  # 55 000 atoms; no budget: the ceiling alone


def alias_bomb(path):
    """1.4 kB that expands to 10^9 strings: nested anchors under ``trainer.devices``."""
    rows = ["task: phdos", "trainer:", "  accelerator: cpu", "  devices:", "    a: &a [" + ", ".join(["x"] * 10) + "]"]
    for previous, name in zip("abcdefgh", "bcdefghi"):
        rows.append(f"    {name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    path.write_text("\n".join(rows) + "\n")


def test_an_alias_bomb_config_is_refused_at_once(tmp_path):
    """Main: 41 s and 3 GB, then a MemoryError, formatting the whole expanded value (``{devices!r:.40}``)."""
    alias_bomb(tmp_path / "bomb.yaml")
    assert (tmp_path / "bomb.yaml").stat().st_size < 1500
    result, peak = peak_rss("train", "bomb.yaml", "--check", cwd=tmp_path, timeout=60)
    assert "bomb.yaml: line 6: YAML aliases (*a) are not accepted in configs" in error_line(result)
    assert peak < REFUSAL_PEAK_BYTES


def test_config_errors_show_a_short_value(tmp_path):
    """Without aliases a value can still be large: the message shows its start, not all of it."""
    config = tmp_path / "big.yaml"
    config.write_text("task: phdos\ntrainer:\n  devices: [" + ", ".join(["gpu"] * 50_000) + "]\n")
    line = error_line(subprocess.run(command("train", config, "--check"), cwd=tmp_path, env=cli_env(),
                                     capture_output=True, text=True, timeout=120))
    assert "trainer.devices: expected a count, -1, 'auto' or a list of device indices (got ['gpu', 'gpu'" in line
    assert len(line) < 300
