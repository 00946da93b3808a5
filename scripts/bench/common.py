"""What every mode of ``bench.py`` shares: paths, formatting, timing helpers, the machine's description, the
inference structures and the result file.

Like everything under ``scripts/bench``, this imports only equispec's public names (``equispec.__all__`` and
``equispec.workflows.__all__``; ``tests/scripts/test_public_names.py`` checks it), so the benchmark measures what a
user can call and survives any reshaping of equispec's internals.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent  # scripts/bench
ROOT = HERE.parents[1]  # the project
SHARED_PHDOS = ROOT.parent / "shared" / "data" / "phdos"


# ----------------------------------------------------------------------------------------------------------
# Formatting


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


def fmt_rate(per_s: float | None) -> str:
    if per_s is None:
        return "–"
    return f"{per_s:,.0f}/s" if per_s >= 10 else f"{per_s:.2f}/s"


def fmt_metrics(m: dict | None) -> str:
    """``MSE / MAE / R² / Wasserstein``; a figure the record lacks is ``–`` (equispec's per-epoch records hold MSE
    and MAE only: R² and Wasserstein are scored for the exported model)."""
    if not m:
        return "–"
    # R² averages over bins; a bin whose targets hardly vary (a few valid materials) can make it astronomically
    # negative, so very large values are shown in e-notation rather than as 180 digits
    r2 = m.get("r2")
    r2 = "–" if r2 is None else f"{r2:.3f}" if abs(r2) < 1000 else f"{r2:.1e}"
    wasserstein = m.get("wasserstein_cm1")
    wasserstein = "–" if wasserstein is None else f"{wasserstein:.1f}"
    return f"{m['mse']:.4f} / {m['mae']:.4f} / {r2} / {wasserstein}"


def fmt_busy(cpus: float | None) -> str:
    return "unknown" if cpus is None else f"{cpus:.1f}"


def threads(n: int) -> str:
    return f"{n} thread" + ("s" if n != 1 else "")


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------
# Timing helpers


def throughput(run, n_items: int, min_seconds: float) -> float:
    """Items per second of ``run()`` (which handles ``n_items``), after one warm-up call, repeated until
    ``min_seconds`` have passed."""
    run()
    repeats, start = 0, time.perf_counter()
    while True:
        run()
        repeats += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return n_items * repeats / elapsed


def busy_cpus(seconds: float = 2.0) -> float | None:
    """CPUs kept busy by other processes while this one sleeps ``seconds`` (from /proc/stat; None elsewhere).

    Unlike the load average, which trails by a minute, this sees the machine as it is now."""

    def sample():
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return (1 - (idle1 - idle0) / max(total1 - total0, 1)) * (os.cpu_count() or 1)


@contextlib.contextmanager
def default_dtype(dtype):
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def percentile(values: list[float], q: float) -> float | None:
    import numpy as np

    return float(np.percentile(values, q)) if values else None


def timed_run(command: list[str], env: dict) -> float:
    """Wall seconds of ``command`` in a fresh process (output captured); a failure is an error."""
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return seconds


def interpreter_start(env: dict, repeats: int) -> float:
    seconds = []
    for _ in range(max(repeats, 3)):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def cold_start(model: str, cif: str, repeats: int, env: dict, work: Path) -> dict:
    """Wall seconds of ``python -m equispec predict CIF --model MODEL -o OUT.csv`` in fresh interpreters."""
    command = [sys.executable, "-m", "equispec", "predict", cif, "--model", model, "-o", str(work / "cold.csv")]
    seconds = [timed_run(command, env) for _ in range(repeats)]
    return {"model": model, "cif": cif, "runs_s": seconds, "median_s": statistics.median(seconds)}


# ----------------------------------------------------------------------------------------------------------
# The machine, the code, the result


def machine_info() -> dict:
    import e3nn
    import lightning
    import torch

    cpu = platform.processor()
    with contextlib.suppress(OSError):
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return {"platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(),
            "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "python": platform.python_version(), "torch": torch.__version__, "e3nn": e3nn.__version__,
            "lightning": lightning.__version__}


def git_revision() -> str | None:
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def new_result(args, **fields) -> dict:
    """The head of every result: date, machine, commit, how busy the CPUs are, the settings."""
    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), **fields,
            "machine": machine_info(), "git": git_revision(), "busy_cpus_start": busy_cpus(),
            "settings": dict(vars(args))}


def child_env() -> dict:
    """The environment of child processes: they import the same equispec as this one."""
    import equispec

    package_root = str(Path(equispec.__file__).resolve().parents[1])
    python_path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": python_path}


def write_result(result: dict, path: str) -> int:
    """Write ``result`` as JSON to ``path`` and print its Markdown table; the exit status of a finished run."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print("\n" + result["markdown"] + "\n")
    print(f"bench: {fmt_s(result['bench_wall_s'])} in all; wrote {out}")
    return 0


# ----------------------------------------------------------------------------------------------------------
# Structures


def draw_valid_ids(valid_ids: list[str], n: int) -> list[str]:
    """The physics timings' structures: ``n`` valid ids drawn with seed 0, sorted."""
    import numpy as np

    return sorted(np.random.default_rng(0).choice(valid_ids, size=min(n, len(valid_ids)), replace=False).tolist())


def inference_set(args, table, models_elements: list[set], work: Path):
    """``args.inference_n`` structures (default: as many as the valid split has) whose elements every model
    knows: valid ones first, then training ones (only a quick run's models miss elements of valid materials),
    written as CIF files under the work folder. Returns (ids, structures, paths)."""
    from pymatgen.io.cif import CifWriter

    from equispec.workflows import read_ids

    valid_ids = read_ids(args.valid_ids)
    candidates = table.subset(valid_ids + read_ids(args.train_ids), args.valid_ids)
    wanted = args.inference_n or len(valid_ids)
    folder = work / "cif"
    folder.mkdir(parents=True, exist_ok=True)
    ids, structures, paths = [], [], []
    for mp_id, structure in zip(candidates.ids, candidates.structures):
        if len(ids) == wanted:
            break
        if all({el.symbol for el in structure.composition.elements} <= known for known in models_elements):
            path = folder / f"{mp_id}.cif"
            CifWriter(structure).write_file(path)
            ids.append(mp_id)
            structures.append(structure)
            paths.append(str(path))
    return ids, structures, paths


def staged_seconds(predictor, paths: list[str], batch_size: int) -> dict:
    """Where the end-to-end time of ``predictor.predict(paths)`` goes, one public stage after the other:
    ``read`` (``predictor.check`` of each file: read and checked), ``features`` (``predictor.features``: the
    pretrained featurizer, 0 for a model without one), ``graphs`` (``predictor.graphs`` less the features it computes
    again) and ``model`` (``predictor.predict_graphs`` on the graphs)."""
    stages, start = {}, time.perf_counter()
    checked = [predictor.check(path) for path in paths]
    stages["read"] = time.perf_counter() - start
    structures, labels = [c[0] for c in checked], [c[1] for c in checked]
    start = time.perf_counter()
    predictor.features(structures)
    stages["features"] = time.perf_counter() - start
    start = time.perf_counter()
    graphs = predictor.graphs(structures, labels)  # features again, then the graphs
    stages["graphs"] = max(time.perf_counter() - start - stages["features"], 0.0)
    start = time.perf_counter()
    predictor.predict_graphs(graphs, batch_size=batch_size)
    stages["model"] = time.perf_counter() - start
    return stages
