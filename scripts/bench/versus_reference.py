"""``bench.py``'s default mode: equispec's training beside the published e3nn model's, then the inference and cold
start of every model (see ``bench.py``'s docstring).

Curves are lists of per-epoch records ``{"epoch", "elapsed_s", "train_s", "valid_s", "epoch_s", "valid": {...}}``.
The reference's ``valid`` holds every figure of ``spectrum_metrics`` (it scores its own predictions); equispec's
holds the valid MSE and MAE that its training logs each epoch (``valid/mse``, ``valid/mae``), and the full figures
(R², Wasserstein) are those of the exported model (``valid_metrics.json``: the best epoch by valid loss).
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import (HERE, ROOT, busy_cpus, cold_start, default_dtype, fmt_busy, fmt_metrics, fmt_rate, fmt_s,
                    inference_set, interpreter_start, markdown_table, new_result, threads, throughput, write_result)
from shipped import bench_equispec_inference

THRESHOLD_MSE = 0.025
TARGETS = {"time_to_best_s": 20 * 60, "train_speedup": 10.0, "graphs_per_s": 2000.0, "files_per_s": 800.0,
           "cold_start_s": 4.0}


# ----------------------------------------------------------------------------------------------------------
# Curves


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
# The reference, in its own process


def start_reference(args, work: Path, env: dict) -> tuple[subprocess.Popen, Path]:
    out = work / "reference"
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("epochs.jsonl", "summary.json", "best.pt"):
        (out / stale).unlink(missing_ok=True)
    command = [sys.executable, str(HERE / "_reference_e3nn.py"), "--data-csv", args.data_csv,
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
                      end_to_end_share={**{k: v / total for k, v in seconds.items()}, "features": 0.0})
        subset = paths[: args.one_by_one]
        start = time.perf_counter()
        for path in subset:
            predict(model, [reference_graph(ase.io.read(path))], 1)
        result["files_per_s_one_by_one"] = len(subset) / (time.perf_counter() - start)
        result["one_by_one_n"] = len(subset)
    return result


# ----------------------------------------------------------------------------------------------------------
# equispec training, timed per epoch


def make_epoch_clock(label: str, started: float, log_path: Path):
    """A Lightning callback: per-epoch times and the valid MSE / MAE that the training logs each epoch, read from
    ``trainer.callback_metrics`` (nothing is run twice). Times exclude the callback's own work."""
    from lightning.pytorch.callbacks import Callback

    def dataset_size(loader) -> int:
        loader = loader[0] if isinstance(loader, (list, tuple)) else loader
        return len(loader.dataset)

    class EpochClock(Callback):
        def __init__(self):
            self.epochs: list[dict] = []
            self.overhead_s = 0.0
            self.prep_s = None
            self.n_train = self.n_valid = 0
            self._log = log_path.open("w")

        def _now(self) -> float:
            return time.perf_counter() - started - self.overhead_s

        def on_fit_start(self, trainer, pl_module):
            self.prep_s = self._now()  # the data (CSV, features, graphs) is ready before Lightning starts
            self.max_epochs = trainer.max_epochs

        def on_train_epoch_start(self, trainer, pl_module):
            self._epoch_start = self._now()
            self._valid_start = self._valid_end = None
            if not self.n_train:
                self.n_train = dataset_size(trainer.train_dataloader)

        def on_validation_epoch_start(self, trainer, pl_module):
            if trainer.sanity_checking:
                return
            self._valid_start = self._now()
            if not self.n_valid:
                self.n_valid = dataset_size(trainer.val_dataloaders)

        def on_validation_epoch_end(self, trainer, pl_module):
            if trainer.sanity_checking:
                return
            self._valid_end = self._now()

        def on_train_epoch_end(self, trainer, pl_module):
            end = self._now()
            tick = time.perf_counter()
            if self._valid_start is None or self._valid_end is None:
                return
            logged = trainer.callback_metrics
            metrics = {"n": self.n_valid, "mse": float(logged["valid/mse"]), "mae": float(logged["valid/mae"])}
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


def train_equispec(config_path: str, args, work: Path) -> dict:
    """Train one config with the bench's data and limits; returns its timings, curve and model directory."""
    from equispec.workflows import load_config, train

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
    started = time.perf_counter()
    clock = make_epoch_clock(label, started, out / "epochs.jsonl")
    model_dir = train(config, extra_callbacks=[clock])
    total_s = time.perf_counter() - started - clock.overhead_s
    exported = json.loads((out / "valid_metrics.json").read_text())
    return {"label": label, "config": str(config_path), "overrides": overrides, "model_dir": str(model_dir),
            "n_train": clock.n_train, "n_valid": clock.n_valid, "max_epochs": config.optim.max_epochs,
            "stopped_by": "max_epochs (end of its schedule)", "feature_cache": args.feature_cache,
            "prep_s": clock.prep_s, "total_s": total_s, "exported_model_valid": exported, "epochs": clock.epochs}


# ----------------------------------------------------------------------------------------------------------
# The run


def run(args, env: dict, wall_start: float) -> int:
    import logging
    import warnings

    import torch

    import lightning.pytorch  # noqa: F401  (sets its loggers' levels on import; quieted below)

    from equispec import load_model
    from equispec.workflows import read_ids, read_phdos_csv, read_structure

    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for message in (".*does not have many workers.*", ".*smaller than the logging interval.*", ".*LeafSpec.*"):
        warnings.filterwarnings("ignore", message)
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)

    result = new_result(args, models={})
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
        runs = [train_equispec(path, args, work) for path in args.equispec_configs]
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
    for run_ in runs:
        curve = curve_summary(run_["epochs"], run_["n_train"])
        if run_["epochs"]:  # the exported model is the best epoch: its figures are the full ones
            curve["best_valid"] = {**curve["best_valid"], **run_["exported_model_valid"]}
        result["models"][run_["label"]] = {
            "config": str(Path(run_["config"]).relative_to(ROOT))
            if Path(run_["config"]).resolve().is_relative_to(ROOT) else run_["config"],
            "training": {**curve, **{k: run_[k] for k in ("stopped_by", "prep_s", "total_s", "feature_cache",
                                                         "model_dir", "exported_model_valid", "overrides")}},
            "epochs": run_["epochs"]}
    result["data"] = {"csv": args.data_csv, "train_ids": args.train_ids, "valid_ids": args.valid_ids,
                      "n_train": reference_summary["n_train"], "n_valid": reference_summary["n_valid"]}
    result["equal_wall_time"] = []
    for run_ in runs:
        t = result["models"][run_["label"]]["training"]
        if not t.get("epochs_completed"):
            continue
        ref = best_so_far_at(reference_epochs, t["time_to_best_s"])
        result["equal_wall_time"].append({
            "model": run_["label"], "elapsed_s": t["time_to_best_s"], "equispec": t["best_valid"],
            "equispec_epoch": t["best_epoch"], "reference": ref["valid"] if ref else None,
            "reference_epoch": ref["epoch"] if ref else None})

    # Inference and cold start, with the training finished on both cores.
    torch.set_num_threads(args.inference_threads)
    keys_ = [run_["label"] for run_ in runs] + [f"shipped {name}" for name in args.shipped]
    model_names = [run_["model_dir"] for run_ in runs] + list(args.shipped)
    elements = [set(load_model(name).elements) for name in model_names]
    table = read_phdos_csv(args.data_csv)
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


# ----------------------------------------------------------------------------------------------------------
# Report


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
            if key == "reference":
                return f"graphs {fmt_s(t['graphs_s'])} ({100 * t['graphs_s'] / total:.1f} %)"
            return f"{fmt_s(t['prep_s'])} ({100 * t['prep_s'] / total:.0f} %)"
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
        ["training data preparation before the first epoch: reference graphs; equispec CSV, pretrained features "
         "and graphs (share of time to best)"] + [training_cell(k, "prep") for k in columns],
        [f"inference on pre-built graphs, batch {batch_sizes}"] + [inference_cell(k, "graphs") for k in columns],
        ["inference end to end from CIF files, batched"] + [inference_cell(k, "files") for k in columns],
        ["end to end, stage by stage: read / features / graphs / model"]
        + [inference_cell(k, "share") for k in columns],
        ["`equispec predict` one CIF, cold (median)"] + [cold_cell(k) for k in columns],
    ]
    s, d = result["settings"], result["data"]
    lines = [
        f"Measured {result['date']} with `python scripts/bench/bench.py{' --quick' if s['quick'] else ''}` "
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
