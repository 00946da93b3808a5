"""GPU check: training steps of the from-scratch phonon-DOS model through equispec's own training, timed.

Prints training throughput (structures/s), peak GPU memory and the training loss at the start and the end, for
float32 (``32-true``) and for ``bf16-mixed``, then one line of JSON. The steps are those of ``equispec.workflows.train``
on ``configs/phdos_scratch.yaml`` (Lightning, batch ``--batch-size``), timed by a Lightning callback from the end of
the warm-up steps, validation excluded. Then the shipped ``phdos`` ensemble on the device, through the predictor's
public methods on ``--feature-n`` structures read beforehand: SevenNet-0 featurization alone (``features``: the
potential's graphs built on the CPU, the features on the device), the model on pre-built graphs (``predict_graphs``)
and both together (``graphs`` + ``predict_graphs``: issue 13's target, >= 1000 structures/s on a GPU). Runs on the
CPU too (``--device cpu``) as a smoke test. ``scripts/bench/gpu_check.sh`` calls it and then times
``equispec predict`` on the GPU and runs the real Lightning path with DDP.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from equispec import load_model
from equispec.workflows import load_config, read_ids, read_phdos_csv, train

ROOT = Path(__file__).resolve().parents[2]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory_mib(device: torch.device) -> float | None:
    return round(torch.cuda.max_memory_allocated(device) / 2**20, 1) if device.type == "cuda" else None


def step_clock(device: torch.device, warmup: int):
    """A Lightning callback: structures/s over the training steps after ``warmup``, validation excluded, and the
    loss of every step."""
    from lightning.pytorch.callbacks import Callback

    class StepClock(Callback):
        def __init__(self):
            self.losses, self.step, self.seen = [], 0, 0
            self.started = self.last = None
            self.paused_s = 0.0

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if self.step == warmup:  # exclude start-up (allocator, kernel selection) from the timing
                synchronize(device)
                self.started, self.seen, self.paused_s = time.perf_counter(), 0, 0.0

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            loss = outputs["loss"] if isinstance(outputs, dict) else outputs
            self.losses.append(float(loss.detach()))
            self.step += 1
            if self.started is not None:
                self.seen += int(getattr(batch, "num_graphs", 0) or trainer.train_dataloader.batch_size)
                synchronize(device)
                self.last = time.perf_counter()

        def on_validation_epoch_start(self, trainer, pl_module):
            synchronize(device)
            self._valid_start = time.perf_counter()

        def on_validation_epoch_end(self, trainer, pl_module):
            synchronize(device)
            if self.started is not None:
                self.paused_s += time.perf_counter() - self._valid_start

        def structures_per_s(self) -> float | None:
            if self.started is None or self.last is None:
                return None
            return self.seen / (self.last - self.started - self.paused_s)

    return StepClock()


def training_check(args, device: torch.device, precision: str, work: Path) -> dict:
    """``args.steps`` (or a few more: whole epochs) training steps of ``configs/phdos_scratch.yaml`` at
    ``precision``; graphs built once in ``work`` and shared by the runs."""
    n_train = len(read_ids(args.train_ids))
    if args.steps * args.batch_size <= n_train:  # one epoch of exactly that many steps
        limit, epochs = args.steps * args.batch_size, 1
    else:
        limit, epochs = None, math.ceil(args.steps / math.ceil(n_train / args.batch_size))
    overrides = [f"trainer.accelerator={'gpu' if device.type == 'cuda' else 'cpu'}", "trainer.devices=1",
                 f"trainer.precision={precision}", f"optim.batch_size={args.batch_size}", f"optim.max_epochs={epochs}",
                 "trainer.progress_bar=false", f"data.limit_valid={args.limit_valid}"]
    if limit:
        overrides.append(f"data.limit_train={limit}")
    config = load_config(ROOT / "configs" / "phdos_scratch.yaml", overrides)
    config.data.csv, config.data.train_ids, config.data.valid_ids = args.data_csv, args.train_ids, args.valid_ids
    config.data.graph_cache = str(work / "graphs")
    config.output_dir = str(work / precision)
    clock = step_clock(device, warmup=min(20, args.steps // 5))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    train(config, extra_callbacks=[clock])
    rate = clock.structures_per_s()
    return {"precision": precision, "steps": clock.step, "batch_size": args.batch_size, "epochs": epochs,
            "structures_per_s": None if rate is None else round(rate, 1),
            "run_s": round(time.perf_counter() - started, 1), "peak_memory_mib": peak_memory_mib(device),
            "loss_first_20": round(float(np.mean(clock.losses[:20])), 5),
            "loss_last_20": round(float(np.mean(clock.losses[-20:])), 5)}


def feature_check(table, device: torch.device, n: int, repeats: int = 3) -> dict:
    """Structures/s of the shipped phdos ensemble on ``device`` over structures read beforehand: SevenNet-0
    features alone, the model on pre-built graphs (features included in the graphs), and graphs + model; best of
    ``repeats``."""
    predictor = load_model("phdos", device=device)
    known = set(predictor.elements)
    chosen = [k for k, s in enumerate(table.structures) if {e.symbol for e in s.composition.elements} <= known][:n]
    structures = [table.structures[k] for k in chosen]
    labels = [table.ids[k] for k in chosen]
    graphs = predictor.graphs(structures, labels)

    def features():
        return predictor.features(structures)

    def model():
        return predictor.predict_graphs(graphs, batch_size=512)

    def graphs_and_model():
        return predictor.predict_graphs(predictor.graphs(structures, labels), batch_size=512)

    timings = {}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for name, run_ in (("features", features), ("model", model), ("graphs_and_model", graphs_and_model)):
        run_()  # warm-up: kernels, allocator
        best = float("inf")
        for _ in range(repeats):
            synchronize(device)
            started = time.perf_counter()
            run_()
            synchronize(device)
            best = min(best, time.perf_counter() - started)
        timings[f"{name}_per_s"] = round(len(structures) / best, 1)
    return {"n_structures": len(structures), **timings, "peak_memory_mib": peak_memory_mib(device)}


def main() -> None:
    data = ROOT.parent / "shared" / "data" / "phdos"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-csv", default=str(data / "phdos_trainval.csv"))
    parser.add_argument("--train-ids", default=str(data / "splits" / "train_mp_ids.txt"))
    parser.add_argument("--valid-ids", default=str(data / "splits" / "valid_mp_ids.txt"))
    parser.add_argument("--steps", type=int, default=300, help="training steps per precision (whole epochs)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--limit-valid", type=int, default=64, help="valid materials scored after each epoch")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--feature-n", type=int, default=1024, help="structures for the featurization timing")
    parser.add_argument("--skip-training", action="store_true", help="only the featurization timing")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        print(f"device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}, CUDA {torch.version.cuda}")

    features = feature_check(read_phdos_csv(args.data_csv), device, args.feature_n)
    print(f"shipped phdos on {device} ({features['n_structures']} structures): SevenNet-0 features "
          f"{features['features_per_s']} structures/s; model on pre-built graphs {features['model_per_s']} "
          f"structures/s; graphs + model {features['graphs_and_model_per_s']} structures/s")
    results = []
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as work:
        for precision in (() if args.skip_training else ("32-true", "bf16-mixed")):
            result = training_check(args, device, precision, Path(work))
            results.append(result)
            print(f"{result['precision']:>14}: {result['structures_per_s']} structures/s, peak memory "
                  f"{result['peak_memory_mib']} MiB, loss {result['loss_first_20']} -> {result['loss_last_20']} "
                  f"over {result['steps']} steps of {args.batch_size}", flush=True)
    print(json.dumps({"device": str(device), "features": features, "runs": results}))


if __name__ == "__main__":
    main()
