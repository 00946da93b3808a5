"""Side by side on this machine: the published e3nn phonon-DOS model against equispec's models.

    python scripts/bench.py [--out runs/bench.json] [--reference-minutes 30] [--quick]

In one run, on the same data and split:

1. The reference (``scripts/_reference_e3nn.py``: e3nn's ``gate_points_2101.Network`` with the settings of
   the Chen, Andrejevic et al. phonon-DOS tutorial, float64, batch size 1) trains in its own process with one
   thread, for at most ``--reference-minutes``, writing one JSON line per epoch.
2. Meanwhile this process trains each ``--equispec-configs`` file with ``equispec.training.train`` (one
   thread, one after the other), timing every epoch and scoring the predictions of its validation loop.
3. When the reference has stopped: inference throughput of every model (pre-built graphs, batched and one
   by one; end to end from CIF files of the valid structures), with ``--inference-threads`` threads, and
   the cold start of ``equispec predict`` on one CIF in a fresh interpreter.

``--inference-only`` skips the training (1 and 2) and measures the shipped models alone, the figures of issue 13:
pretrained featurization, the model on pre-built graphs and end to end from CIF files, each on its own, the
cold start, and the physics mode's median seconds per valid structure (``--physics-n`` of them; with
``--physics-compare`` also through sevenn's ASE calculator one supercell at a time, as before issue 13).

``--speed`` (issue 24) skips the training too and puts each figure beside what a user gets without equispec, in
one run: the cold start of ``equispec --help`` and ``equispec predict CIF`` against ``python -c "import torch"``
(``--cold-start-repeats`` fresh processes of each, interleaved); the physics mode (``equispec.physics.physics_dos``
with the partial DOS) against sevenn's ASE calculator + phonopy as phonopy documents it (``plain_phonopy_dos``),
for each of ``--potentials`` on ``--physics-n`` valid structures, interleaved, with the largest total-DOS
difference; the shipped phdos model end to end from CIF files. ``--speed --quick`` takes about a minute.

    python scripts/bench.py --speed [--out runs/bench-speed.json] [--physics-n 20] [--potentials 7net-0 7net-l3i5]

Prints a markdown table (with the date, machine and versions) for the README and writes everything as
JSON to ``--out``; the per-model files (epoch logs, trained models, CIF files) go to ``--work-dir``.
Valid metrics of both models come from ``equispec.metrics.spectrum_metrics``. Every time-based figure
counts from the start of a model's data preparation (reading the CSV, features, graphs), not from the
first epoch, unless it says "per epoch".
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
ROOT = SCRIPTS.parent
SHARED_PHDOS = ROOT.parent / "shared" / "data" / "phdos"
THRESHOLD_MSE = 0.025
TARGETS = {"time_to_best_s": 20 * 60, "train_speedup": 10.0, "graphs_per_s": 2000.0, "files_per_s": 800.0,
           "cold_start_s": 4.0}
#: ``--speed`` (issue 24): its targets on a 2-core CPU, its potentials and its defaults (``inference_n`` None: all
#: of the valid split)
SPEED_TARGETS = {"help_s": 1.0, "predict_s": 3.0, "files_per_s": 60.0, "physics_median_s": 5.0,
                 "physics_ratio": 4.0, "physics_potential": "7net-l3i5"}
SPEED_POTENTIALS = ("7net-0", "7net-l3i5")
SPEED = {"physics_n": 20, "potentials": SPEED_POTENTIALS, "cold_start_repeats": 5, "inference_n": None}
SPEED_QUICK = {"physics_n": 2, "potentials": ("7net-0",), "cold_start_repeats": 2, "inference_n": 20}
QUICK = {"limit_train": 32, "limit_valid": 16, "max_epochs": 2, "reference_minutes": 1.5, "inference_n": 16,
         "inference_threads": 1, "one_by_one": 8,
         "min_seconds": 0.5, "cold_start_repeats": 1}


# ----------------------------------------------------------------------------------------------------------
# Curves: lists of per-epoch records {"epoch", "elapsed_s", "train_s", "valid_s", "epoch_s", "valid": {...}}


def first_below(epochs: list[dict], threshold: float) -> dict | None:
    """The first epoch whose valid MSE is at or below ``threshold``, or None."""
    return next((e for e in epochs if e["valid"]["mse"] <= threshold), None)


def best_so_far_at(epochs: list[dict], elapsed_s: float) -> dict | None:
    """The checkpoint a run would keep if stopped at ``elapsed_s``: the best valid MSE among the epochs
    finished by then (None if none had finished)."""
    done = [e for e in epochs if e["elapsed_s"] <= elapsed_s]
    return min(done, key=lambda e: e["valid"]["mse"]) if done else None


def curve_summary(epochs: list[dict], n_train: int, threshold: float = THRESHOLD_MSE) -> dict:
    """Best epoch, times to best and to ``threshold``, per-epoch seconds and training throughput."""
    if not epochs:
        return {"epochs_completed": 0}
    best = min(epochs, key=lambda e: e["valid"]["mse"])
    reached = first_below(epochs, threshold)
    train_s = statistics.median(e["train_s"] for e in epochs)
    return {
        "epochs_completed": len(epochs),
        "best_epoch": best["epoch"],
        "best_valid": best["valid"],
        "time_to_best_s": best["elapsed_s"],
        "threshold_mse": threshold,
        "time_to_threshold_s": reached["elapsed_s"] if reached else None,
        "epoch_to_threshold": reached["epoch"] if reached else None,
        "seconds_per_epoch": statistics.median(e["epoch_s"] for e in epochs),
        "train_seconds_per_epoch": train_s,
        "valid_seconds_per_epoch": statistics.median(e["valid_s"] for e in epochs),
        "train_structures_per_s": n_train / train_s,
        # the best epoch among the last five: the valid loss was still going down when the run stopped
        "improved_in_last_5_epochs": best["epoch"] > epochs[-1]["epoch"] - 5,
        "last_elapsed_s": epochs[-1]["elapsed_s"],
    }


def read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


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
    if not m:
        return "–"
    # R² averages over bins; a bin whose targets hardly vary (a few valid materials) can make it astronomically
    # negative, so very large values are shown in e-notation rather than as 180 digits
    r2 = f"{m['r2']:.3f}" if abs(m["r2"]) < 1000 else f"{m['r2']:.1e}"
    return f"{m['mse']:.4f} / {m['mae']:.4f} / {r2} / {m['wasserstein_cm1']:.1f}"


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


class Stopwatch:
    """Seconds spent in named functions, by temporarily wrapping ``module.name`` (restored on exit)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    @contextlib.contextmanager
    def wrap(self, module, name: str, label: str | None = None):
        label = label or name
        original = getattr(module, name)  # AttributeError here: the function moved; fix the bench

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start
                self.calls[label] = self.calls.get(label, 0) + 1

        setattr(module, name, timed)
        try:
            yield self
        finally:
            setattr(module, name, original)


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


# ----------------------------------------------------------------------------------------------------------
# The reference, in its own process


def start_reference(args, work: Path, env: dict) -> tuple[subprocess.Popen, Path]:
    out = work / "reference"
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("epochs.jsonl", "summary.json", "best.pt"):
        (out / stale).unlink(missing_ok=True)
    command = [sys.executable, str(SCRIPTS / "_reference_e3nn.py"), "--data-csv", args.data_csv,
               "--train-ids", args.train_ids, "--valid-ids", args.valid_ids, "--out-dir", str(out),
               "--minutes", str(args.reference_minutes), "--max-epochs", str(args.reference_max_epochs),
               "--threads", "1"]
    if args.limit_train:
        command += ["--limit-train", str(args.limit_train)]
    if args.limit_valid:
        command += ["--limit-valid", str(args.limit_valid)]
    child_env = {**env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with (out / "log.txt").open("w") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=child_env), out


class ReferenceWatcher(threading.Thread):
    """Prints each new epoch of the reference's log while this process is busy."""

    def __init__(self, path: Path, max_epochs: int, interval_s: float = 5.0):
        super().__init__(daemon=True)
        self.path, self.max_epochs, self.interval_s = path, max_epochs, interval_s
        self.stop_event, self.seen = threading.Event(), 0

    def poll(self) -> None:
        for e in read_jsonl(self.path)[self.seen:]:
            print(f"  [reference] epoch {e['epoch']}/{self.max_epochs}  valid MSE {e['valid']['mse']:.4f}  "
                  f"{e['epoch_s']:.0f} s/epoch  {fmt_s(e['elapsed_s'])} elapsed", flush=True)
            self.seen += 1

    def run(self) -> None:
        while not self.stop_event.wait(self.interval_s):
            self.poll()


# ----------------------------------------------------------------------------------------------------------
# equispec training, timed per epoch


def make_epoch_clock(label: str, started: float, freq_cm1, log_path: Path):
    """A Lightning callback: per-epoch times and the valid metrics of the predictions the validation loop
    makes anyway (captured by a forward hook, so nothing is run twice). Times exclude the callback's own
    work."""
    import numpy as np
    from lightning.pytorch.callbacks import Callback

    from equispec import keys
    from equispec.metrics import spectrum_metrics

    class EpochClock(Callback):
        def __init__(self):
            self.epochs: list[dict] = []
            self.overhead_s = 0.0
            self.prep_s = None
            self.n_train = self.n_valid = 0
            self._handle = None
            self._log = log_path.open("w")

        def _now(self) -> float:
            return time.perf_counter() - started - self.overhead_s

        def on_fit_start(self, trainer, pl_module):
            self.prep_s = self._now()
            self.n_train = len(trainer.datamodule.train_graphs)
            self.n_valid = len(trainer.datamodule.valid_graphs)
            self.max_epochs = trainer.max_epochs

        def on_train_epoch_start(self, trainer, pl_module):
            self._epoch_start = self._now()
            self._valid_start = self._valid_end = None

        def on_validation_epoch_start(self, trainer, pl_module):
            if trainer.sanity_checking:
                return
            self._valid_start = self._now()
            self._predictions, self._targets = [], []
            self._handle = pl_module.model.register_forward_hook(self._capture)

        def _capture(self, module, inputs, output):
            tick = time.perf_counter()
            self._predictions.append(output[keys.GRAPH_OUTPUT].detach().double().cpu().numpy())
            self._targets.append(inputs[0][keys.TARGET].detach().double().cpu().numpy())
            self.overhead_s += time.perf_counter() - tick

        def on_validation_epoch_end(self, trainer, pl_module):
            if trainer.sanity_checking or self._handle is None:
                return
            self._valid_end = self._now()
            self._handle.remove()
            self._handle = None

        def on_train_epoch_end(self, trainer, pl_module):
            end = self._now()
            tick = time.perf_counter()
            if self._valid_start is None or self._valid_end is None:
                return
            metrics = spectrum_metrics(freq_cm1, np.concatenate(self._targets), np.concatenate(self._predictions))
            record = {"epoch": trainer.current_epoch + 1, "elapsed_s": end,
                      "train_s": self._valid_start - self._epoch_start, "valid_s": self._valid_end - self._valid_start,
                      "epoch_s": end - self._epoch_start,
                      "lr": trainer.optimizers[0].param_groups[0]["lr"], "valid": metrics}
            self.epochs.append(record)
            self._log.write(json.dumps(record) + "\n")
            self._log.flush()
            best = min(e["valid"]["mse"] for e in self.epochs)
            print(f"  [{label}] epoch {record['epoch']}/{self.max_epochs}  valid MSE {metrics['mse']:.4f} "
                  f"(best {best:.4f})  {record['epoch_s']:.1f} s/epoch  {fmt_s(end)} elapsed", flush=True)
            self.overhead_s += time.perf_counter() - tick

        def teardown(self, trainer, pl_module, stage):
            self._log.close()

    return EpochClock()


def train_equispec(config_path: str, args, work: Path, freq_cm1) -> dict:
    """Train one config with the bench's data and limits; returns its timings, curve and model directory."""
    import equispec.training.run as run
    from equispec.training import load_config

    label = Path(config_path).stem
    overrides = ["trainer.progress_bar=false", "trainer.accelerator=cpu"] + list(args.overrides)
    if args.limit_train:
        overrides.append(f"data.limit_train={args.limit_train}")
    if args.limit_valid:
        overrides.append(f"data.limit_valid={args.limit_valid}")
    if args.max_epochs:
        overrides.append(f"optim.max_epochs={args.max_epochs}")
    config = load_config(config_path, overrides)
    config.data.csv, config.data.train_ids, config.data.valid_ids = args.data_csv, args.train_ids, args.valid_ids
    config.output_dir = str(work / label)
    # Without --feature-cache, pretrained features are computed inside the timed run (cold), as a new user would.
    config.data.feature_cache = args.feature_cache
    out = Path(config.output_dir)
    if out.is_dir():  # the bench's own folder from an earlier run: start clean (Lightning would reuse it)
        shutil.rmtree(out)
    out.mkdir(parents=True)
    print(f"equispec {label}: training {config_path} ({config.optim.max_epochs} epochs, 1 thread)", flush=True)
    stopwatch = Stopwatch()
    started = time.perf_counter()
    clock = make_epoch_clock(label, started, freq_cm1, out / "epochs.jsonl")
    with stopwatch.wrap(run, "build_graphs", "graphs_s"), stopwatch.wrap(run, "pretrained_features", "features_s"):
        model_dir = run.train(config, extra_callbacks=[clock])
    total_s = time.perf_counter() - started - clock.overhead_s
    exported = json.loads((out / "valid_metrics.json").read_text())
    return {"label": label, "config": str(config_path), "overrides": overrides, "model_dir": str(model_dir),
            "n_train": clock.n_train, "n_valid": clock.n_valid, "max_epochs": config.optim.max_epochs,
            "stopped_by": "max_epochs (end of its schedule)", "feature_cache": args.feature_cache,
            "prep_s": clock.prep_s, "graphs_s": stopwatch.seconds.get("graphs_s", 0.0),
            "features_s": stopwatch.seconds.get("features_s", 0.0), "total_s": total_s,
            "exported_model_valid": exported, "epochs": clock.epochs}


# ----------------------------------------------------------------------------------------------------------
# Inference


def inference_set(args, table, models_elements: list[set], work: Path):
    """``args.inference_n`` structures (default: as many as the valid split has) whose elements every model
    knows: valid ones first, then training ones (only a quick run's models miss elements of valid materials),
    written as CIF files under the work folder. Returns (ids, structures, paths)."""
    from pymatgen.io.cif import CifWriter

    from equispec.data.datasets import read_ids

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


def bench_equispec_inference(name_or_dir: str, structures, paths: list[str], args) -> dict:
    """Throughput of an equispec model on pre-built graphs and end to end from files, and where the
    end-to-end time goes."""
    import equispec.api as api
    from equispec.inference import base, phonon

    predictor = api.load_model(name_or_dir)
    labels = [Path(p).name for p in paths]
    result = {"model": name_or_dir, "n_structures": len(paths),
              "ensemble_members": predictor.info.n_members, "pretrained": predictor.info.pretrained}
    graphs = predictor.graphs(list(structures), labels)
    if result["pretrained"]:  # the featurizer is warm now (built by predictor.graphs)
        result["features_per_s"] = throughput(
            lambda: base.pretrained_features(list(structures), result["pretrained"], progress=False,
                                            device=str(predictor.device)), len(structures), args.min_seconds)
    for batch_size in args.batch_sizes:
        result[f"graphs_per_s_batch{batch_size}"] = throughput(
            lambda: predictor.predict_graphs(graphs, batch_size=batch_size), len(graphs), args.min_seconds)
    result["graphs_per_s_one_by_one"] = throughput(
        lambda: predictor.predict_graphs(graphs, batch_size=1), len(graphs), args.min_seconds)

    predictor.predict(paths[:2])  # warm-up: loads a pretrained featurizer once, as a long-lived process would
    stopwatch = Stopwatch()
    with stopwatch.wrap(base, "to_structure", "read_s"), stopwatch.wrap(phonon, "build_graphs", "graphs_s"), \
            stopwatch.wrap(base, "pretrained_features", "features_s"), \
            stopwatch.wrap(predictor, "predict_graphs", "model_s"):
        start = time.perf_counter()
        predictor.predict(paths, batch_size=max(args.batch_sizes))
        total = time.perf_counter() - start
    result["files_per_s_batched"] = len(paths) / total
    result["files_batched_s"] = total
    result["files_batch_size"] = max(args.batch_sizes)
    result["end_to_end_share"] = {k.removesuffix("_s"): stopwatch.seconds.get(k, 0.0) / total
                                  for k in ("read_s", "features_s", "graphs_s", "model_s")}
    result["end_to_end_share"]["other"] = 1 - sum(result["end_to_end_share"].values())
    subset = paths[: args.one_by_one]
    start = time.perf_counter()
    for path in subset:
        predictor.predict(path)
    result["files_per_s_one_by_one"] = len(subset) / (time.perf_counter() - start)
    result["one_by_one_n"] = len(subset)
    return result


def bench_reference_inference(reference_dir: Path, paths: list[str], args) -> dict:
    """The same measurements for the reference (float64, graphs built as in the tutorial, files read by ASE)."""
    import ase.io
    import torch

    from _reference_e3nn import build_reference_network, predict, reference_graph

    summary = json.loads((reference_dir / "summary.json").read_text())
    with default_dtype(torch.float64):
        model = build_reference_network(summary["num_neighbors"], n_out=summary["n_out"])
        model.load_state_dict(torch.load(reference_dir / "best.pt", map_location="cpu", weights_only=True))
        model.eval()
        graphs = [reference_graph(ase.io.read(p)) for p in paths]
        result = {"model": "reference", "n_structures": len(paths), "ensemble_members": 1, "pretrained": None}
        for batch_size in args.batch_sizes:
            result[f"graphs_per_s_batch{batch_size}"] = throughput(lambda: predict(model, graphs, batch_size),
                                                                   len(graphs), args.min_seconds)
        result["graphs_per_s_one_by_one"] = throughput(lambda: predict(model, graphs, 1), len(graphs),
                                                       args.min_seconds)
        seconds = {"read": 0.0, "graphs": 0.0, "model": 0.0}
        start = time.perf_counter()
        atoms = [ase.io.read(p) for p in paths]
        seconds["read"] = time.perf_counter() - start
        built = [reference_graph(a) for a in atoms]
        seconds["graphs"] = time.perf_counter() - start - seconds["read"]
        predict(model, built, max(args.batch_sizes))
        total = time.perf_counter() - start
        seconds["model"] = total - seconds["read"] - seconds["graphs"]
        result.update(files_per_s_batched=len(paths) / total, files_batched_s=total,
                      files_batch_size=max(args.batch_sizes),
                      end_to_end_share={**{k: v / total for k, v in seconds.items()}, "features": 0.0, "other": 0.0})
        subset = paths[: args.one_by_one]
        start = time.perf_counter()
        for path in subset:
            predict(model, [reference_graph(ase.io.read(path))], 1)
        result["files_per_s_one_by_one"] = len(subset) / (time.perf_counter() - start)
        result["one_by_one_n"] = len(subset)
    return result


def cold_start(model: str, cif: str, repeats: int, env: dict, work: Path) -> dict:
    """Wall seconds of ``python -m equispec predict CIF --model MODEL -o OUT.csv`` in fresh interpreters."""
    command = [sys.executable, "-m", "equispec", "predict", cif, "--model", model, "-o", str(work / "cold.csv")]
    seconds = [timed_run(command, env) for _ in range(repeats)]
    return {"model": model, "cif": cif, "runs_s": seconds, "median_s": statistics.median(seconds)}


def write_result(result: dict, path: str) -> int:
    """Write ``result`` as JSON to ``path`` and print its Markdown table; the exit status of a finished run."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print("\n" + result["markdown"] + "\n")
    print(f"bench: {fmt_s(result['bench_wall_s'])} in all; wrote {out}")
    return 0


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


def draw_valid_ids(valid_ids: list[str], n: int) -> list[str]:
    """The physics timings' structures: ``n`` valid ids drawn with seed 0, sorted."""
    import numpy as np

    return sorted(np.random.default_rng(0).choice(valid_ids, size=min(n, len(valid_ids)), replace=False).tolist())


def bench_physics(table, valid_ids: list[str], n: int, compare: bool) -> dict:
    """Median seconds of ``physics_dos`` (total DOS only, as ``scripts/physics_dos_batch.py``) over ``n`` valid
    structures drawn with seed 0; with ``compare``, the same structures with forces through sevenn's ASE calculator
    one supercell at a time (the code before issue 13), interleaved, and the largest DOS difference."""
    import numpy as np

    from equispec.data.pretrained import sevennet_calculator
    from equispec.errors import EquispecError
    from equispec.physics import physics_dos

    ids = draw_valid_ids(valid_ids, n)
    part = table.subset(ids, "valid ids")
    physics_dos(part.structures[0], name="warm-up", partial=False)  # loads the potential once, as predict would
    runs = {"batched": [], "calculator": []}
    largest_dos_difference = 0.0
    for mp_id, structure in zip(part.ids, part.structures):
        try:
            new = physics_dos(structure, name=mp_id, partial=False)
            runs["batched"].append(new.seconds)
            if compare:
                old = physics_dos(structure, sevennet_calculator(), name=mp_id, partial=False)
                runs["calculator"].append(old.seconds)
                largest_dos_difference = max(largest_dos_difference, float(np.abs(new.dos - old.dos).max()))
        except EquispecError as exc:
            print(f"  physics: {mp_id}: {exc}", flush=True)
    result = {"n": len(runs["batched"]), "ids": ids, "median_s": statistics.median(runs["batched"]),
              "runs_s": runs["batched"]}
    if compare:
        result.update(calculator_median_s=statistics.median(runs["calculator"]), calculator_runs_s=runs["calculator"],
                      largest_dos_difference=largest_dos_difference)
    return result


def inference_only(args, env: dict) -> dict:
    """Issue 13's measurements of the shipped models (no training); see the module docstring."""
    import torch

    from equispec.api import load_model
    from equispec.data.datasets import read_ids, read_phdos_csv
    from equispec.data.structures import read_structure

    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    result = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "mode": "inference-only",
              "machine": machine_info(), "git": git_revision(), "busy_cpus_start": busy_cpus(),
              "settings": {k: v for k, v in vars(args).items()}, "models": {}}
    torch.set_num_threads(args.inference_threads)
    table = read_phdos_csv(args.data_csv)
    elements = [set(load_model(name).elements) for name in args.shipped]
    ids, structures, paths = inference_set(args, table, elements, work)
    valid_ids = read_ids(args.valid_ids)
    result["data"] = {"csv": args.data_csv, "n_inference": len(paths),
                      "n_inference_from_train": sum(i not in set(valid_ids) for i in ids)}
    print(f"inference: {len(paths)} structures, {threads(args.inference_threads)}", flush=True)
    for name in args.shipped:
        print(f"  inference: shipped {name}", flush=True)
        result["models"][f"shipped {name}"] = {"inference": bench_equispec_inference(name, structures, paths, args)}
    if args.physics_n:
        print(f"  physics: {args.physics_n} valid structures", flush=True)
        result["physics"] = bench_physics(table, valid_ids, args.physics_n, args.physics_compare)
    if args.cold_start_repeats:
        env = {**env, "OMP_NUM_THREADS": str(args.inference_threads)}
        result["interpreter_start_s"] = interpreter_start(env, args.cold_start_repeats)
        for name, known in zip(args.shipped, elements):
            cif = args.cold_start_cif
            if not {el.symbol for el in read_structure(cif).composition.elements} <= known:
                cif = paths[0]
            print(f"  cold start: equispec predict {Path(cif).name} --model {name}", flush=True)
            result["models"][f"shipped {name}"]["cold_start"] = cold_start(name, cif, args.cold_start_repeats, env, work)
    result["busy_cpus_end"] = busy_cpus()
    return result


#: issue 13's targets on this machine (the GPU one needs a GPU: scripts/gpu_check.sh)
TARGETS_13 = {"files_per_s": 30.0, "cold_start_s": 4.0, "physics_median_s": 2.0}


def inference_report(result: dict) -> str:
    """The README table of an ``--inference-only`` run."""
    m, s = result["machine"], result["settings"]
    rows, target_rows = [], []
    for key, model in result["models"].items():
        i, c = model["inference"], model.get("cold_start")
        share = i["end_to_end_share"]
        batch = max(s["batch_sizes"])
        rows += [
            [key, "pretrained featurization (structures read beforehand)", fmt_rate(i.get("features_per_s"))],
            [key, f"model on pre-built graphs with features, batch {batch}", fmt_rate(i[f"graphs_per_s_batch{batch}"])],
            [key, "end to end from CIF files, batched (one by one)",
             f"{fmt_rate(i['files_per_s_batched'])} ({fmt_rate(i['files_per_s_one_by_one'])})"],
            [key, "end to end: read / features / graphs / model / other",
             " / ".join(f"{100 * share[k]:.0f}" for k in ("read", "features", "graphs", "model", "other")) + " %"],
        ]
        target_rows.append(["end to end from CIF files ≥ 30/s", key, fmt_rate(i["files_per_s_batched"]),
                            "yes" if i["files_per_s_batched"] >= TARGETS_13["files_per_s"] else "**no**"])
        if c:
            rows.append([key, "`equispec predict` one CIF, cold (median)", f"{c['median_s']:.1f} s"])
            target_rows.append(["cold `equispec predict` of one CIF < 4 s", key, f"{c['median_s']:.1f} s",
                                "yes" if c["median_s"] < TARGETS_13["cold_start_s"] else "**no**"])
    physics = result.get("physics")
    if physics:
        text = f"{physics['median_s']:.2f} s (n = {physics['n']})"
        if "calculator_median_s" in physics:
            text += (f"; through the ASE calculator {physics['calculator_median_s']:.2f} s; largest DOS difference "
                     f"{physics['largest_dos_difference']:.1e}")
        rows.append(["physics mode", "median seconds per valid structure (total DOS)", text])
        target_rows.append(["physics mode median ≤ 2 s per valid structure", "SevenNet-0 + phonopy",
                            f"{physics['median_s']:.2f} s",
                            "yes" if physics["median_s"] <= TARGETS_13["physics_median_s"] else "**no**"])
    lines = [
        f"Measured {result['date']} with `python scripts/bench.py --inference-only` (commit {result['git']}) on "
        f"{m['platform']}, {m['cpu']}, {m['cpus_usable']} CPUs usable, Python {m['python']}, torch {m['torch']}, "
        f"e3nn {m['e3nn']}. {threads(s['inference_threads'])}, {result['data']['n_inference']} structures. CPUs busy "
        f"with other processes: {fmt_busy(result['busy_cpus_start'])} at the start, "
        f"{fmt_busy(result['busy_cpus_end'])} at the end.",
        "",
        markdown_table(["model", "measurement", "value"], rows),
        "",
        markdown_table(["target (issue 13)", "model", "measured", "met"], target_rows),
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------
# Speed (issue 24): each equispec figure beside what a user gets without it, measured in one run


def cold_starts(commands: dict[str, list[str]], repeats: int, env: dict) -> dict:
    """Wall seconds of each command in ``repeats`` fresh processes, interleaved (one of each per round, the
    order rotated from round to round so that none always runs first after a pause)."""
    runs = {label: [] for label in commands}
    labels = list(commands)
    for round_ in range(repeats):
        for label in labels[round_ % len(labels):] + labels[:round_ % len(labels)]:
            runs[label].append(timed_run(commands[label], env))
    return {label: {"command": " ".join(commands[label]), "runs_s": runs[label],
                    "median_s": statistics.median(runs[label])} for label in labels}


def speed_cold_start(args, env: dict) -> dict:
    """``import torch`` (the floor), ``equispec --help`` and ``equispec predict CIF`` (shipped phdos, fast), each
    ``args.cold_start_repeats`` times; medians and their ratios to the floor."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-speed-") as tmp:
        commands = {"import_torch": [sys.executable, "-c", "import torch"],
                    "help": [sys.executable, "-m", "equispec", "--help"],
                    "predict": [sys.executable, "-m", "equispec", "predict", args.cold_start_cif,
                                "-o", str(Path(tmp) / "out.csv")]}
        result = cold_starts(commands, args.cold_start_repeats, env)
    floor = result["import_torch"]["median_s"]
    for entry in result.values():
        entry["ratio_to_floor"] = entry["median_s"] / floor
    return {"repeats": args.cold_start_repeats, "cif": args.cold_start_cif, "threads": env.get("OMP_NUM_THREADS"),
            "commands": result}


def plain_phonopy_dos(structure, calculator, supercell_ang: float = 10.0, distance_ang: float = 0.01,
                      mesh_length_ang: float = 40.0) -> dict:
    """The physics mode as a user without equispec would write it, from phonopy's documentation: finite
    displacements of the supercell (each lattice vector repeated ``ceil(supercell_ang / |a_i|)`` times), the
    forces of one displaced supercell at a time through ``calculator`` (an ASE calculator), symmetrised force
    constants, the total DOS (tetrahedron method, 1 cm^-1 steps) on phonopy's automatic mesh and the projected
    (per-atom) DOS on the full mesh, summed per element.

    Returns the seconds it took (and of its stages: ``forces`` in the calculator, ``dos`` from the force
    constants on), the supercell, the number of displacements, the forces, the DOS and the ``phonopy.Phonopy``
    (which holds the full q-mesh of the projected DOS when this returns)."""
    import math
    import warnings

    import numpy as np
    from ase import Atoms
    from phonopy import Phonopy
    from phonopy.physical_units import get_physical_units
    from phonopy.structure.atoms import PhonopyAtoms

    start = time.perf_counter()
    pitch_thz = 1.0 / get_physical_units().THzToCm  # 1 cm^-1
    unit = PhonopyAtoms(symbols=[site.specie.symbol for site in structure], cell=structure.lattice.matrix,
                        scaled_positions=structure.frac_coords)
    repeats = [math.ceil(supercell_ang / length) for length in structure.lattice.abc]
    with warnings.catch_warnings():  # phonopy's notes on point groups: printing them is no part of the timing
        warnings.simplefilter("ignore", UserWarning)
        phonon = Phonopy(unit, supercell_matrix=np.diag(repeats), primitive_matrix="P")
        phonon.generate_displacements(distance=distance_ang)
    forces, forces_start = [], time.perf_counter()
    for cell in phonon.supercells_with_displacements:
        atoms = Atoms(cell.symbols, cell=cell.cell, scaled_positions=cell.scaled_positions, pbc=True)
        atoms.calc = calculator
        forces.append(atoms.get_forces())
    forces_s = time.perf_counter() - forces_start
    phonon.forces = forces
    dos_start = time.perf_counter()
    phonon.produce_force_constants()
    phonon.symmetrize_force_constants()
    phonon.run_mesh(mesh_length_ang)
    phonon.run_total_dos(freq_pitch=pitch_thz)
    total = {"frequency_points": phonon.total_dos.frequency_points, "total_dos": phonon.total_dos.dos}
    phonon.run_mesh(mesh_length_ang, is_mesh_symmetry=False, with_eigenvectors=True)
    phonon.run_projected_dos(freq_pitch=pitch_thz)
    by_element: dict[str, np.ndarray] = {}
    for site, density in zip(structure, phonon.projected_dos.projected_dos):
        by_element[site.specie.symbol] = by_element.get(site.specie.symbol, 0.0) + density
    end = time.perf_counter()
    return {"seconds": end - start, "stages_s": {"forces": forces_s, "dos": end - dos_start}, "supercell": repeats,
            "supercell_atoms": len(phonon.supercell), "num_displacements": len(forces),
            "forces": np.asarray(forces), "total_dos": total, "partial_dos": by_element, "phonon": phonon}


def plain_total_dos_on(phonon, freq_cm1, mesh_length_ang: float = 40.0):
    """The plain pipeline's total DOS (states per cm^-1) at the points of equispec's ``raw_freq_cm1`` (0 to its
    last point in 1 cm^-1 steps, as phonopy makes them): not timed, for the comparison only."""
    import numpy as np
    from phonopy.physical_units import get_physical_units

    cm1_per_thz = get_physical_units().THzToCm
    phonon.run_mesh(mesh_length_ang)  # the total DOS's mesh (the projected DOS left the full one)
    phonon.run_total_dos(freq_min=0.0, freq_max=float(freq_cm1[-1]) / cm1_per_thz, freq_pitch=1.0 / cm1_per_thz)
    points, density = phonon.total_dos.frequency_points * cm1_per_thz, phonon.total_dos.dos / cm1_per_thz
    if len(points) == len(freq_cm1) and np.allclose(points, freq_cm1, rtol=0, atol=1e-6):
        return density
    return np.interp(freq_cm1, points, density)  # not expected: the grids are built the same way


def percentile(values: list[float], q: float) -> float | None:
    import numpy as np

    return float(np.percentile(values, q)) if values else None


def bench_speed_physics(table, valid_ids: list[str], n: int, potentials: list[str], warm_up_file: str) -> dict:
    """Seconds per structure of ``equispec.physics.physics_dos`` (with the partial DOS, what
    ``predict --mode physics`` computes) and of :func:`plain_phonopy_dos` through sevenn's own ASE calculator,
    on ``n`` valid structures drawn as :func:`bench_physics` draws them, interleaved structure by structure (the
    order alternating), after one untimed warm-up of each per potential (on ``warm_up_file``, a small cell: it loads
    the potential); and how far the two differ: forces, force constants and total DOS. With more than one torch
    thread, sevenn's forces of the same cell vary from run to run in float32's last digits (the order of its sums),
    and the tetrahedron DOS at 1 cm^-1 steps magnifies that near sharp features and soft modes; with one thread the
    two pipelines give the same forces to the bit (measured)."""
    import numpy as np
    import torch
    from pymatgen.core import Structure
    from sevenn.calculator import SevenNetCalculator

    from equispec.errors import EquispecError
    from equispec.physics import PhysicsDosSettings, physics_dos

    warm_up = Structure.from_file(warm_up_file)
    ids = draw_valid_ids(valid_ids, n)
    part = table.subset(ids, "valid ids")
    result = {"n_requested": n, "ids": ids, "potentials": {}}
    for potential in potentials:
        settings = PhysicsDosSettings(potential=potential)
        with default_dtype(torch.float32):
            calculator = SevenNetCalculator(potential, device="cpu")
        print(f"  physics: {potential}, {len(ids)} valid structures (warm-up on {Path(warm_up_file).name})",
              flush=True)

        def run_equispec(mp_id, structure, settings=settings):
            start = time.perf_counter()
            dos = physics_dos(structure, name=mp_id, settings=settings, partial=True)
            return dos, time.perf_counter() - start

        def run_plain(structure, calculator=calculator):
            with default_dtype(torch.float32):
                return plain_phonopy_dos(structure, calculator)

        with contextlib.suppress(EquispecError):  # the potential is loaded by then, whatever the DOS
            run_equispec("warm-up", warm_up)
        run_plain(warm_up)
        rows, errors = [], []
        for k, (mp_id, structure) in enumerate(zip(part.ids, part.structures)):
            try:
                if k % 2 == 0:
                    ours, seconds = run_equispec(mp_id, structure)
                    plain = run_plain(structure)
                else:
                    plain = run_plain(structure)
                    ours, seconds = run_equispec(mp_id, structure)
            except EquispecError as exc:
                errors.append({"id": mp_id, "error": str(exc)})
                print(f"    {mp_id}: {exc}", flush=True)
                continue
            row = {"id": mp_id, "formula": structure.composition.reduced_formula, "atoms": len(structure),
                   "supercell": list(ours.supercell), "supercell_atoms": plain["supercell_atoms"],
                   "num_displacements": ours.num_displacements, "equispec_s": seconds, "plain_s": plain["seconds"],
                   "plain_forces_s": plain["stages_s"]["forces"], "plain_dos_s": plain["stages_s"]["dos"],
                   "same_supercell": list(ours.supercell) == plain["supercell"]
                   and ours.num_displacements == plain["num_displacements"]}
            if row["same_supercell"]:
                row["largest_force_difference"] = float(np.abs(ours.phonon.raw_forces - plain["forces"]).max())
                fc = ours.phonon.force_constants
                row["largest_fc_difference_relative"] = float(
                    np.abs(fc - plain["phonon"].force_constants).max() / np.abs(fc).max())
                difference = np.abs(ours.raw_dos - plain_total_dos_on(plain["phonon"], ours.raw_freq_cm1))
                row["largest_dos_difference"] = float(difference.max())
                row["largest_dos_difference_relative"] = float(difference.max() / np.abs(ours.raw_dos).max())
            rows.append(row)
            print(f"    {mp_id} {row['formula']}: {row['supercell_atoms']} atoms, {row['num_displacements']} "
                  f"displacements; equispec {seconds:.2f} s, plain {plain['seconds']:.2f} s", flush=True)
        ours_s, plain_s = [r["equispec_s"] for r in rows], [r["plain_s"] for r in rows]
        compared = [r for r in rows if "largest_dos_difference" in r]
        summary = {"n": len(rows), "median_s": statistics.median(ours_s) if rows else None,
                   "p90_s": percentile(ours_s, 90),
                   "plain_median_s": statistics.median(plain_s) if rows else None, "plain_p90_s": percentile(plain_s, 90),
                   "n_compared": len(compared), "structures": rows, "errors": errors}
        for key in ("largest_dos_difference", "largest_dos_difference_relative", "largest_force_difference",
                    "largest_fc_difference_relative"):
            summary[key] = max((r[key] for r in compared), default=None)
        summary["ratio_plain_to_equispec"] = (summary["plain_median_s"] / summary["median_s"]) if rows else None
        result["potentials"][potential] = summary
    return result


def bench_speed_files(args, table, work: Path) -> dict:
    """The shipped phdos model (fast mode) end to end from CIF files: ``model.predict(paths, batch_size)`` on
    ``args.inference_n`` structures (default: the valid split) written beforehand, model loaded and one call on a
    few files made beforehand; three timed calls. Then the same files stage by stage through the predictor's
    public methods (``check``, ``features``, ``graphs``, ``predict_graphs``): where the time goes."""
    from equispec.api import load_model
    from equispec.data.datasets import read_ids

    batch_size = max(args.batch_sizes)
    model = load_model("phdos")
    ids, _, paths = inference_set(args, table, [set(model.elements)], work)
    print(f"  end to end: {len(paths)} CIF files, batch {batch_size}", flush=True)
    model.predict(paths[:4], batch_size=batch_size)  # warm-up: the pretrained featurizer loads on first use
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        predictions = model.predict(paths, batch_size=batch_size)
        runs.append(time.perf_counter() - start)
    assert len(predictions) == len(paths)
    median = statistics.median(runs)
    stages, start = {}, time.perf_counter()
    checked = [model.check(path) for path in paths]
    stages["read"] = time.perf_counter() - start
    read_structures, labels = [c[0] for c in checked], [c[1] for c in checked]
    start = time.perf_counter()
    model.features(read_structures)
    stages["features"] = time.perf_counter() - start
    start = time.perf_counter()
    graphs = model.graphs(read_structures, labels)  # features again, then the graphs
    stages["graphs"] = max(time.perf_counter() - start - stages["features"], 0.0)
    start = time.perf_counter()
    model.predict_graphs(graphs, batch_size=batch_size)
    stages["model"] = time.perf_counter() - start
    return {"model": "phdos", "mode": model.mode, "n_structures": len(paths), "batch_size": batch_size,
            "n_from_train": len(set(ids) - set(read_ids(args.valid_ids))),
            "runs_s": runs, "median_s": median, "structures_per_s": len(paths) / median,
            "staged_s": stages, "staged_share": {k: v / sum(stages.values()) for k, v in stages.items()}}


def speed_targets(result: dict) -> list[dict]:
    rows = []
    cold = result.get("cold_start")
    if cold:
        for key, text, limit in (("help", "cold `equispec --help` < 1 s", SPEED_TARGETS["help_s"]),
                                 ("predict", "cold `equispec predict` of one CIF < 3 s", SPEED_TARGETS["predict_s"])):
            median = cold["commands"][key]["median_s"]
            rows.append({"target": text, "measured": f"{median:.2f} s", "met": median < limit})
    files = result.get("end_to_end")
    if files:
        rate = files["structures_per_s"]
        rows.append({"target": f"end to end from CIF files ≥ {SPEED_TARGETS['files_per_s']:g}/s",
                     "measured": fmt_rate(rate), "met": rate >= SPEED_TARGETS["files_per_s"]})
    name = SPEED_TARGETS["physics_potential"]
    physics = (result.get("physics") or {}).get("potentials", {}).get(name)
    if physics and physics.get("n"):
        median, ratio = physics["median_s"], physics.get("ratio_plain_to_equispec")
        limit = SPEED_TARGETS["physics_median_s"]
        rows.append({"target": f"physics mode, {name}, median ≤ {limit:g} s per structure",
                     "measured": f"{median:.2f} s (n = {physics['n']})",
                     "met": median <= SPEED_TARGETS["physics_median_s"]})
        if ratio is not None:
            rows.append({"target": f"physics mode, {name}, ≥ {SPEED_TARGETS['physics_ratio']:g}× the plain pipeline",
                         "measured": f"{ratio:.2f}×", "met": ratio >= SPEED_TARGETS["physics_ratio"]})
    return rows


def speed_report(result: dict) -> str:
    """The Markdown of a ``--speed`` run: a summary table (equispec, the baseline beside it, their ratio), the
    targets, and each physics structure."""
    m, s = result["machine"], result["settings"]
    rows = []
    cold = result.get("cold_start")
    if cold:
        c = cold["commands"]
        floor = c["import_torch"]["median_s"]

        def runs(key):
            return ", ".join(f"{v:.2f}" for v in c[key]["runs_s"])

        rows.append([f"cold start, fresh process, median of {cold['repeats']} (runs, s)",
                     "–", f"`python -c \"import torch\"` {floor:.2f} s ({runs('import_torch')})", "1.00× floor"])
        for key, text in (("help", "`equispec --help`"),
                          ("predict", f"`equispec predict {Path(cold['cif']).name}` (phdos, fast)")):
            rows.append([f"cold {text}", f"{c[key]['median_s']:.2f} s ({runs(key)})", "`import torch`",
                         f"{c[key]['ratio_to_floor']:.2f}× floor"])
    physics = result.get("physics")
    if physics:
        for potential, p in physics["potentials"].items():
            if not p["n"]:
                rows.append([f"physics mode, {potential}", "no structure succeeded", "–", "–"])
                continue
            rows.append([f"physics mode, {potential}: s per structure, median / p90 (n = {p['n']})",
                         f"{p['median_s']:.2f} / {p['p90_s']:.2f} s",
                         f"sevenn ASE calculator + phonopy: {p['plain_median_s']:.2f} / {p['plain_p90_s']:.2f} s",
                         f"plain {p['ratio_plain_to_equispec']:.2f}× equispec"])
            if p["largest_dos_difference"] is not None:
                rows.append([(f"physics mode, {potential}: largest difference to the plain pipeline "
                              f"(n = {p['n_compared']}): total DOS; forces; force constants"),
                             f"{p['largest_dos_difference']:.1e} states/cm⁻¹",
                             (f"{p['largest_dos_difference_relative']:.1e} of the DOS maximum; "
                              f"{p['largest_force_difference']:.1e} eV/Å; {p['largest_fc_difference_relative']:.1e} "
                              f"of the largest"), "–"])
    files = result.get("end_to_end")
    if files:
        share = files["staged_share"]
        rows.append([(f"end to end from CIF files, shipped phdos (fast), batch {files['batch_size']}, "
                      f"{files['n_structures']} structures (median of {len(files['runs_s'])})"),
                     f"{fmt_rate(files['structures_per_s'])} ({files['median_s']:.2f} s)", "–", "–"])
        rows.append(["end to end, stage by stage: read / features / graphs / model",
                     " / ".join(f"{100 * share[k]:.0f}" for k in ("read", "features", "graphs", "model")) + " %",
                     "–", "–"])
    lines = [
        (f"Measured {result['date']} with `python scripts/bench.py --speed{' --quick' if s['quick'] else ''}` "
         f"(commit {result['git']}) on {m['platform']}, {m['cpu']}, {m['cpus_usable']} CPUs usable, Python "
         f"{m['python']}, torch {m['torch']}, {threads(result['torch_threads'])}. CPUs busy with other processes: "
         f"{fmt_busy(result['busy_cpus_start'])} at the start, {fmt_busy(result['busy_cpus_end'])} at the end."),
        "",
        markdown_table(["measurement", "equispec", "baseline", "ratio"], rows),
        "",
        markdown_table(["target (issue 24)", "measured", "met"],
                       [[t["target"], t["measured"], "yes" if t["met"] else "**no**"] for t in result["targets"]]),
    ]
    if physics:
        detail = [[potential, r["id"], r["formula"], r["atoms"], r["supercell_atoms"], r["num_displacements"],
                   f"{r['equispec_s']:.2f}", f"{r['plain_s']:.2f} ({r['plain_forces_s']:.2f} / {r['plain_dos_s']:.2f})",
                   f"{r['largest_dos_difference']:.1e}" if "largest_dos_difference" in r else "different supercell",
                   f"{r['largest_force_difference']:.1e}" if "largest_force_difference" in r else "–"]
                  for potential, p in physics["potentials"].items() for r in p["structures"]]
        detail += [[potential, e["id"], "–", "–", "–", "–", "error", e["error"][:60], "–", "–"]
                   for potential, p in physics["potentials"].items() for e in p["errors"]]
        lines += ["", markdown_table(["potential", "material", "formula", "atoms", "supercell atoms", "displacements",
                                      "equispec s", "plain s (forces / force constants + DOS)",
                                      "largest DOS difference (states/cm⁻¹)",
                                      "largest force difference (eV/Å)"], detail)]
    return "\n".join(lines)


def speed_main(args, wall_start: float) -> int:
    """``--speed``: see :func:`speed_cold_start`, :func:`bench_speed_physics` and :func:`bench_speed_files`."""
    import torch

    from equispec.data.datasets import read_ids, read_phdos_csv

    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.inference_threads)
    env = {**child_env(), "OMP_NUM_THREADS": str(args.inference_threads)}
    result = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "mode": "speed",
              "machine": machine_info(), "git": git_revision(), "busy_cpus_start": busy_cpus(),
              "torch_threads": torch.get_num_threads(), "settings": dict(vars(args))}
    m = result["machine"]
    print(f"bench --speed: {m['platform']}, {m['cpus_usable']} CPUs, torch {m['torch']}, "
          f"{threads(result['torch_threads'])}", flush=True)
    if result["busy_cpus_start"] is not None and result["busy_cpus_start"] > 0.3:
        print(f"WARNING: other processes keep {result['busy_cpus_start']:.1f} CPUs busy: every figure will be slower "
              "than on a quiet machine.", flush=True)
    if args.cold_start_repeats:
        print(f"  cold start: {args.cold_start_repeats} rounds", flush=True)
        result["cold_start"] = speed_cold_start(args, env)
    table = read_phdos_csv(args.data_csv)
    if args.physics_n:
        result["physics"] = bench_speed_physics(table, read_ids(args.valid_ids), args.physics_n, args.potentials,
                                                args.cold_start_cif)
    result["end_to_end"] = bench_speed_files(args, table, work)
    result["busy_cpus_end"] = busy_cpus()
    if result["busy_cpus_end"] is not None and result["busy_cpus_end"] > 0.3:
        print(f"WARNING: other processes kept {result['busy_cpus_end']:.1f} CPUs busy at the end.", flush=True)
    result["targets"] = speed_targets(result)
    result["bench_wall_s"] = time.perf_counter() - wall_start
    result["markdown"] = speed_report(result)
    return write_result(result, args.out)


# ----------------------------------------------------------------------------------------------------------
# Report


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


def report(result: dict) -> str:
    """The README table: one column per model, then the equal-wall-time comparison and the targets."""
    m = result["machine"]
    models = result["models"]
    ref = models["reference"]
    trained = [k for k in models if k != "reference" and "training" in models[k]]
    columns = ["reference"] + trained + [k for k in models if k != "reference" and k not in trained]
    ref_rate = ref.get("training", {}).get("train_structures_per_s")

    def title(key):
        if key == "reference":
            return "published e3nn model (tutorial settings)"
        model = models[key]
        if "training" in model:
            return f"equispec `{model['config']}`"
        return f"equispec {key.replace('shipped ', 'shipped `')}` ({model['inference']['ensemble_members']} members)"

    def training_cell(key, field):
        t = models[key].get("training")
        if not t or not t.get("epochs_completed"):
            return "–"
        if field == "best":
            converged = "" if key != "reference" else (
                ", not converged: still improving" if t["improved_in_last_5_epochs"] and t["stopped_by"] == "budget"
                else "")
            return f"{fmt_metrics(t['best_valid'])} (epoch {t['best_epoch']}/{t['epochs_completed']}{converged})"
        if field == "time_to_best":
            return fmt_s(t["time_to_best_s"])
        if field == "threshold":
            return fmt_s(t["time_to_threshold_s"]) + (f" (epoch {t['epoch_to_threshold']})"
                                                       if t["epoch_to_threshold"] else " (never)")
        if field == "epoch":
            return f"{t['seconds_per_epoch']:.1f} s ({t['train_seconds_per_epoch']:.1f} s train)"
        if field == "rate":
            rate = t["train_structures_per_s"]
            speedup = f" ({rate / ref_rate:.1f}×)" if ref_rate and key != "reference" else ""
            return f"{rate:,.1f}/s{speedup}"
        if field == "prep":
            total = t["time_to_best_s"]
            text = f"graphs {fmt_s(t['graphs_s'])} ({100 * t['graphs_s'] / total:.1f} %)"
            if t.get("features_s"):
                text += f", features {fmt_s(t['features_s'])} ({100 * t['features_s'] / total:.0f} %)"
            return text
        raise KeyError(field)

    def inference_cell(key, field):
        i = models[key].get("inference")
        if not i:
            return "–"
        if field == "graphs":
            return " / ".join(fmt_rate(i[f"graphs_per_s_batch{b}"]) for b in result["settings"]["batch_sizes"]) + \
                f"; one by one {fmt_rate(i['graphs_per_s_one_by_one'])}"
        if field == "files":
            return f"{fmt_rate(i['files_per_s_batched'])}; one by one {fmt_rate(i['files_per_s_one_by_one'])}"
        if field == "share":
            s = i["end_to_end_share"]
            return " / ".join(f"{100 * s[k]:.0f}" for k in ("read", "features", "graphs", "model")) + " %"
        raise KeyError(field)

    def cold_cell(key):
        c = models[key].get("cold_start")
        if not c:
            return "–"
        return f"{c['median_s']:.1f} s (interpreter start {result['interpreter_start_s']:.2f} s of it)"

    batch_sizes = "/".join(str(b) for b in result["settings"]["batch_sizes"])
    rows = [
        ["best valid MSE / MAE / R² / Wasserstein (cm⁻¹)"] + [training_cell(k, "best") for k in columns],
        ["time to best valid (incl. data preparation)"] + [training_cell(k, "time_to_best") for k in columns],
        [f"time to valid MSE ≤ {THRESHOLD_MSE}"] + [training_cell(k, "threshold") for k in columns],
        ["seconds per epoch (train + valid)"] + [training_cell(k, "epoch") for k in columns],
        ["training throughput, structures/s (× reference)"] + [training_cell(k, "rate") for k in columns],
        ["training data preparation: graphs, pretrained features (share of time to best)"]
        + [training_cell(k, "prep") for k in columns],
        [f"inference on pre-built graphs, batch {batch_sizes}"] + [inference_cell(k, "graphs") for k in columns],
        ["inference end to end from CIF files, batched"] + [inference_cell(k, "files") for k in columns],
        ["end to end: read / features / graphs / model"] + [inference_cell(k, "share") for k in columns],
        ["`equispec predict` one CIF, cold (median)"] + [cold_cell(k) for k in columns],
    ]
    s, d = result["settings"], result["data"]
    lines = [
        f"Measured {result['date']} with `python scripts/bench.py{' --quick' if s['quick'] else ''}` "
        f"(commit {result['git']}) on {m['platform']}, {m['cpu']}, {m['cpus_usable']} CPUs usable, "
        f"Python {m['python']}, torch {m['torch']}, e3nn {m['e3nn']}, Lightning {m['lightning']}. "
        f"{d['n_train']} train / {d['n_valid']} valid materials. Training: one thread per "
        f"model, the reference in its own process beside equispec's; reference budget "
        f"{s['reference_minutes']:g} min. Inference: {threads(s['inference_threads'])}, "
        f"{d['n_inference']} structures ({d['n_inference_from_train']} of them from the training split). "
        f"CPUs busy with other processes: {fmt_busy(result['busy_cpus_start'])} at the start, "
        f"{fmt_busy(result['busy_cpus_inference'])} before inference.",
        "",
        markdown_table(["", *(title(k) for k in columns)], rows),
        "",
    ]
    equal = result["equal_wall_time"]
    if equal:
        lines += [markdown_table(
            ["at equal wall time", "T", "equispec MSE / MAE / R² / W (epoch)", "reference at T (epoch)"],
            [[f"`{e['model']}` best epoch", fmt_s(e["elapsed_s"]),
              f"{fmt_metrics(e['equispec'])} ({e['equispec_epoch']})",
              f"{fmt_metrics(e['reference'])} ({e['reference_epoch'] or 'none finished'})"] for e in equal]), ""]
    target_rows = [[t["target"], t["model"], t["measured"], "yes" if t["met"] else "**no**"]
                   for t in result["targets"]]
    lines += [markdown_table(["target", "model", "measured", "met"], target_rows)]
    return "\n".join(lines)


def targets(result: dict) -> list[dict]:
    """Each target of the issue against each model it applies to."""
    rows = []
    models = result["models"]
    ref_rate = models["reference"].get("training", {}).get("train_structures_per_s")
    for key, model in models.items():
        if key == "reference":
            continue
        t, i, c = model.get("training"), model.get("inference"), model.get("cold_start")
        if t and t.get("epochs_completed"):
            rows.append({"target": "training to best valid < 20 min", "model": key,
                         "measured": fmt_s(t["time_to_best_s"]),
                         "met": t["time_to_best_s"] < TARGETS["time_to_best_s"]})
            if ref_rate:
                speedup = t["train_structures_per_s"] / ref_rate
                rows.append({"target": "training throughput ≥ 10× reference", "model": key,
                             "measured": f"{speedup:.1f}×", "met": speedup >= TARGETS["train_speedup"]})
        if i:
            best_graphs = max(v for k, v in i.items() if k.startswith("graphs_per_s_batch"))
            rows.append({"target": "inference on pre-built graphs ≥ 2000/s", "model": key,
                         "measured": fmt_rate(best_graphs), "met": best_graphs >= TARGETS["graphs_per_s"]})
            rows.append({"target": "end to end from files ≥ 800/s", "model": key,
                         "measured": fmt_rate(i["files_per_s_batched"]),
                         "met": i["files_per_s_batched"] >= TARGETS["files_per_s"]})
        if c:
            rows.append({"target": "`equispec predict` one CIF < 4 s cold", "model": key,
                         "measured": f"{c['median_s']:.1f} s", "met": c["median_s"] < TARGETS["cold_start_s"]})
    return rows


# ----------------------------------------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-csv", default=str(SHARED_PHDOS / "phdos_trainval.csv"))
    p.add_argument("--train-ids", default=str(SHARED_PHDOS / "splits" / "train_mp_ids.txt"))
    p.add_argument("--valid-ids", default=str(SHARED_PHDOS / "splits" / "valid_mp_ids.txt"))
    p.add_argument("--out", help="JSON result (default: runs/bench.json; runs/bench-speed.json with --speed)")
    p.add_argument("--work-dir", help="epoch logs, trained models, CIF files (default: runs/bench; runs/bench-speed "
                                      "with --speed)")
    p.add_argument("--equispec-configs", nargs="+",
                   default=[str(ROOT / "configs" / "phdos.yaml"), str(ROOT / "configs" / "phdos_scratch.yaml")],
                   help="configs to train (data paths and output_dir are replaced by the bench's)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="config override for every equispec config (repeatable)")
    p.add_argument("--feature-cache", help="reuse this pretrained-feature cache (default: none, so features are "
                                           "computed inside the timed training run)")
    p.add_argument("--shipped", nargs="*", default=["phdos"], help="shipped models to measure inference of")
    p.add_argument("--reference-minutes", type=float, default=30.0,
                   help="wall-time budget of the reference's training (default: %(default)s)")
    p.add_argument("--reference-max-epochs", type=int, default=100, help="the tutorial's 100 by default")
    p.add_argument("--limit-train", type=int, help="use the first N training ids (both models)")
    p.add_argument("--limit-valid", type=int, help="use the first N valid ids (both models)")
    p.add_argument("--max-epochs", type=int, help="override every equispec config's optim.max_epochs")
    p.add_argument("--inference-threads", type=int,
                   help="torch threads for inference and cold starts (default: all CPUs; 1 with --quick)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64])
    p.add_argument("--inference-n", type=int,
                   help="structures for the inference measurements (default: all of the valid split)")
    p.add_argument("--one-by-one", type=int, default=32, help="files predicted one at a time (default: %(default)s)")
    p.add_argument("--min-seconds", type=float, default=2.0, help="least time per throughput measurement")
    p.add_argument("--cold-start-repeats", type=int, help="fresh processes per command (default: 3; 5 with --speed)")
    p.add_argument("--cold-start-cif", default=str(ROOT / "data" / "examples" / "Si.cif"))
    p.add_argument("--inference-only", action="store_true",
                   help="no training: featurization, model, end to end, cold start and physics of the shipped models")
    p.add_argument("--physics-n", type=int,
                   help="valid structures for the physics-mode timing (0: none; default: 0, 20 with --speed)")
    p.add_argument("--physics-compare", action="store_true",
                   help="also time the physics mode through sevenn's ASE calculator (before issue 13)")
    p.add_argument("--speed", action="store_true",
                   help="no training: cold starts against `import torch`, physics mode against sevenn's ASE calculator "
                        "+ phonopy, the shipped phdos model end to end from CIF files (issue 24)")
    p.add_argument("--potentials", nargs="+", choices=SPEED_POTENTIALS,
                   help=f"potentials of --speed's physics timing (default: {' '.join(SPEED_POTENTIALS)})")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke test: {QUICK['limit_train']} train / {QUICK['limit_valid']} valid materials, "
                        f"{QUICK['max_epochs']} epochs, reference budget {QUICK['reference_minutes']} min")
    args = p.parse_args(argv)
    if args.speed:
        return speed_args(args)
    args.out = args.out or "runs/bench.json"
    args.work_dir = args.work_dir or "runs/bench"
    args.physics_n = args.physics_n or 0
    args.cold_start_repeats = 3 if args.cold_start_repeats is None else args.cold_start_repeats
    if args.quick:
        args.limit_train = args.limit_train or QUICK["limit_train"]
        args.limit_valid = args.limit_valid or QUICK["limit_valid"]
        args.max_epochs = args.max_epochs or QUICK["max_epochs"]
        args.reference_max_epochs = min(args.reference_max_epochs, QUICK["max_epochs"])
        args.reference_minutes = min(args.reference_minutes, QUICK["reference_minutes"])
        args.inference_n = args.inference_n or QUICK["inference_n"]
        args.inference_threads = args.inference_threads or QUICK["inference_threads"]
        args.one_by_one = min(args.one_by_one, QUICK["one_by_one"])
        args.min_seconds = min(args.min_seconds, QUICK["min_seconds"])
        args.cold_start_repeats = min(args.cold_start_repeats, QUICK["cold_start_repeats"])
    args.inference_threads = args.inference_threads or os.cpu_count()
    return args


def speed_args(args):
    """``--speed``'s defaults (``SPEED``, or ``SPEED_QUICK`` with ``--quick``) where not given."""
    defaults = SPEED_QUICK if args.quick else SPEED
    args.out = args.out or "runs/bench-speed.json"
    args.work_dir = args.work_dir or "runs/bench-speed"
    args.physics_n = defaults["physics_n"] if args.physics_n is None else args.physics_n
    args.potentials = args.potentials or list(defaults["potentials"])
    args.cold_start_repeats = (defaults["cold_start_repeats"] if args.cold_start_repeats is None
                               else args.cold_start_repeats)
    args.inference_n = args.inference_n or defaults["inference_n"]
    args.inference_threads = args.inference_threads or os.cpu_count()
    return args


def child_env() -> dict:
    """The environment of child processes: they import the same equispec as this one."""
    import equispec

    package_root = str(Path(equispec.__file__).resolve().parents[1])
    python_path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": python_path}


def main(argv=None) -> int:
    args = parse_args(argv)
    wall_start = time.perf_counter()
    if args.speed:
        return speed_main(args, wall_start)
    sys.path.insert(0, str(SCRIPTS))
    import logging
    import warnings

    import torch

    import lightning.pytorch  # noqa: F401  (sets its loggers' levels on import; quieted below)

    from equispec.data.datasets import read_ids, read_phdos_csv
    from equispec.data.structures import read_structure

    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for message in (".*does not have many workers.*", ".*smaller than the logging interval.*", ".*LeafSpec.*"):
        warnings.filterwarnings("ignore", message)
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    env = child_env()
    if args.inference_only:
        result = inference_only(args, env)
        result["bench_wall_s"] = time.perf_counter() - wall_start
        result["markdown"] = inference_report(result)
        return write_result(result, args.out)

    result = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
              "machine": machine_info(), "git": git_revision(), "busy_cpus_start": busy_cpus(),
              "settings": {k: v for k, v in vars(args).items()}, "models": {}}
    print(f"bench: {result['machine']['platform']}, {result['machine']['cpus_usable']} CPUs, torch "
          f"{result['machine']['torch']}; reference budget {args.reference_minutes:g} min", flush=True)
    if result["busy_cpus_start"] is not None and result["busy_cpus_start"] > 0.3:
        print(f"WARNING: other processes keep {result['busy_cpus_start']:.1f} CPUs busy: both models train slower "
              "than on a quiet machine.", flush=True)

    process, reference_dir = start_reference(args, work, env)
    watcher = ReferenceWatcher(reference_dir / "epochs.jsonl", args.reference_max_epochs)
    watcher.start()
    try:
        torch.set_num_threads(1)
        table = read_phdos_csv(args.data_csv)  # for the grid now, for the inference structures later
        runs = [train_equispec(path, args, work, table.freq_cm1) for path in args.equispec_configs]
        if process.poll() is None:
            print("equispec training done; waiting for the reference to use its budget ...", flush=True)
        process.wait()
    finally:
        watcher.stop_event.set()
        watcher.join()
        if process.poll() is None:
            process.terminate()
            process.wait(30)
    watcher.poll()
    if process.returncode != 0:
        tail = (reference_dir / "log.txt").read_text()[-3000:]
        raise SystemExit(f"the reference run failed (exit {process.returncode}):\n{tail}")

    reference_summary = json.loads((reference_dir / "summary.json").read_text())
    reference_epochs = read_jsonl(reference_dir / "epochs.jsonl")
    reference_training = {**curve_summary(reference_epochs, reference_summary["n_train"]),
                          "stopped_by": reference_summary["stop"], "graphs_s": reference_summary["graphs_s"],
                          "read_s": reference_summary["read_s"], "budget_s": reference_summary["budget_s"],
                          "n_parameters": reference_summary["n_parameters"],
                          "num_neighbors": reference_summary["num_neighbors"]}
    result["models"]["reference"] = {"training": reference_training, "epochs": reference_epochs}
    for run in runs:
        result["models"][run["label"]] = {
            "config": str(Path(run["config"]).relative_to(ROOT)) if Path(run["config"]).resolve().is_relative_to(ROOT)
            else run["config"],
            "training": {**curve_summary(run["epochs"], run["n_train"]),
                         **{k: run[k] for k in ("stopped_by", "prep_s", "graphs_s", "features_s", "total_s",
                                                "feature_cache", "model_dir", "exported_model_valid", "overrides")}},
            "epochs": run["epochs"]}
    result["data"] = {"csv": args.data_csv, "train_ids": args.train_ids, "valid_ids": args.valid_ids,
                      "n_train": reference_summary["n_train"], "n_valid": reference_summary["n_valid"]}
    result["equal_wall_time"] = []
    for run in runs:
        t = result["models"][run["label"]]["training"]
        if not t.get("epochs_completed"):
            continue
        ref = best_so_far_at(reference_epochs, t["time_to_best_s"])
        result["equal_wall_time"].append({
            "model": run["label"], "elapsed_s": t["time_to_best_s"], "equispec": t["best_valid"],
            "equispec_epoch": t["best_epoch"], "reference": ref["valid"] if ref else None,
            "reference_epoch": ref["epoch"] if ref else None})

    # Inference and cold start, with the training finished on both cores.
    torch.set_num_threads(args.inference_threads)
    from equispec.api import load_model

    keys_ = [run["label"] for run in runs] + [f"shipped {name}" for name in args.shipped]
    model_names = [run["model_dir"] for run in runs] + list(args.shipped)
    elements = [set(load_model(name).elements) for name in model_names]
    ids, structures, paths = inference_set(args, table, elements, work)
    valid = set(read_ids(args.valid_ids))
    result["data"].update(n_inference=len(paths), n_inference_from_train=sum(i not in valid for i in ids))
    result["busy_cpus_inference"] = busy = busy_cpus()
    print(f"inference: {len(paths)} structures, {threads(args.inference_threads)}", flush=True)
    if busy is not None and busy > 0.3:
        # OpenMP threads spin when they cannot all run: with other jobs on the cores, throughput collapses
        print(f"WARNING: other processes keep {busy:.1f} CPUs busy: the inference figures will be low. "
              "Rerun when the machine is quiet.", flush=True)
    result["models"]["reference"]["inference"] = bench_reference_inference(reference_dir, paths, args)
    for key, name in zip(keys_, model_names):
        print(f"  inference: {key}", flush=True)
        result["models"].setdefault(key, {})["inference"] = bench_equispec_inference(name, structures, paths, args)

    if args.cold_start_repeats:
        env = {**env, "OMP_NUM_THREADS": str(args.inference_threads)}
        result["interpreter_start_s"] = interpreter_start(env, args.cold_start_repeats)
        for key, name, known in zip(keys_, model_names, elements):
            cif = args.cold_start_cif
            if not {el.symbol for el in read_structure(cif).composition.elements} <= known:
                cif = paths[0]  # a quick run's model may not know the example's elements
            print(f"  cold start: equispec predict {Path(cif).name} --model {key}", flush=True)
            result["models"][key]["cold_start"] = cold_start(name, cif, args.cold_start_repeats, env, work)
    result["bench_wall_s"] = time.perf_counter() - wall_start
    result["targets"] = targets(result)
    result["markdown"] = report(result)
    return write_result(result, args.out)


if __name__ == "__main__":
    sys.exit(main())
