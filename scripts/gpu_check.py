"""GPU check: a few hundred real training steps of the from-scratch phonon-DOS model, timed.

Prints training throughput (structures/s), peak GPU memory and the loss at the start and the end, for
float32 and for bf16 autocast, then one line of JSON. Then the shipped ``phdos`` ensemble on the device:
SevenNet-0 featurization alone, and end to end from pre-built graphs including the features (issue 13's
target: >= 1000 structures/s on a GPU), on ``--feature-n`` structures. Runs on the CPU too
(``--device cpu``) as a smoke test. ``scripts/gpu_check.sh`` calls it and then times ``equispec predict``
on the GPU and runs the real Lightning path with bf16-mixed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from torch_geometric.loader import DataLoader

from equispec import keys
from equispec.data.datasets import build_graphs, read_ids, read_phdos_csv
from equispec.models.build import ModelHyperparameters, build_model

ROOT = Path(__file__).resolve().parents[1]


def run(graphs, hyper: dict, device: torch.device, steps: int, batch_size: int, bf16: bool) -> dict:
    torch.manual_seed(0)
    model = build_model("phdos_gate_v1", hyper).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    loader = DataLoader(graphs, batch_size=batch_size, shuffle=True, drop_last=True)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    losses, seen, step, started, warmup = [], 0, 0, None, min(20, steps // 5)
    while step < steps:
        for batch in loader:
            if step == warmup:  # exclude start-up (allocator, kernel selection) from the timing
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                started, seen = time.perf_counter(), 0
            batch = batch.to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                prediction = model(batch)[keys.GRAPH_OUTPUT]
            loss = (prediction.float() - batch[keys.TARGET]).pow(2).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            seen += batch.num_graphs
            step += 1
            if step >= steps:
                break
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    return {"precision": "bf16 autocast" if bf16 else "float32", "steps": steps, "batch_size": batch_size,
            "structures_per_s": round(seen / seconds, 1),
            "peak_memory_mib": round(torch.cuda.max_memory_allocated(device) / 2**20, 1) if device.type == "cuda" else None,
            "loss_first_20": round(float(np.mean(losses[:20])), 5), "loss_last_20": round(float(np.mean(losses[-20:])), 5)}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def feature_check(table, device: torch.device, n: int, repeats: int = 3) -> dict:
    """Structures/s of the shipped phdos ensemble on ``device``: SevenNet-0 features alone, and features + model
    from pre-built graphs (both graph kinds built once on the CPU beforehand), best of ``repeats``."""
    from equispec.api import load_model
    from equispec.nn.sevennet import load_sevennet

    predictor = load_model("phdos", device=device)
    known = set(predictor.elements)
    chosen = [k for k, s in enumerate(table.structures) if {e.symbol for e in s.composition.elements} <= known][:n]
    structures = [table.structures[k] for k in chosen]
    labels = [table.ids[k] for k in chosen]
    blocks = load_sevennet("7net-0", device)
    potential_graphs = [blocks.graph(s) for s in structures]
    graphs = build_graphs(structures, predictor.cutoff_ang, labels, progress=False)

    def features():
        return blocks.features(potential_graphs)

    def end_to_end():
        for graph, values in zip(graphs, features()):
            graph[keys.NODE_PRETRAINED] = torch.from_numpy(values)
        return predictor.predict_graphs(graphs, batch_size=512)

    timings = {}
    for name, run_ in (("features", features), ("features_and_model", end_to_end)):
        run_()  # warm-up: kernels, allocator
        best = float("inf")
        for _ in range(repeats):
            synchronize(device)
            started = time.perf_counter()
            run_()
            synchronize(device)
            best = min(best, time.perf_counter() - started)
        timings[f"{name}_per_s"] = round(len(structures) / best, 1)
    return {"n_structures": len(structures), **timings,
            "peak_memory_mib": round(torch.cuda.max_memory_allocated(device) / 2**20, 1) if device.type == "cuda" else None}


def main() -> None:
    data = ROOT.parent / "shared" / "data" / "phdos"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-csv", default=str(data / "phdos_trainval.csv"))
    parser.add_argument("--train-ids", default=str(data / "splits" / "train_mp_ids.txt"))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--feature-n", type=int, default=1024, help="structures for the featurization timing")
    parser.add_argument("--skip-training", action="store_true", help="only the featurization timing")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        print(f"device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    config = yaml.safe_load((ROOT / "configs" / "phdos_scratch.yaml").read_text())
    hyper = ModelHyperparameters.from_dict(config["model"]).to_dict()

    table = read_phdos_csv(args.data_csv)
    table = table.subset(read_ids(args.train_ids), args.train_ids)
    started = time.perf_counter()
    graphs = build_graphs(table.structures, hyper["cutoff_ang"], table.ids, table.dos, progress=False)
    graph_seconds = time.perf_counter() - started
    hyper["avg_num_neighbors"] = float(np.mean([g.edge_index.shape[1] / g.num_nodes for g in graphs]))
    print(f"{len(graphs)} training graphs built in {graph_seconds:.1f} s")

    features = feature_check(read_phdos_csv(args.data_csv), device, args.feature_n)
    print(f"shipped phdos on {device}: SevenNet-0 features {features['features_per_s']} structures/s; features + "
          f"model from pre-built graphs {features['features_and_model_per_s']} structures/s "
          f"({features['n_structures']} structures)")
    results = []
    for bf16 in (() if args.skip_training else (False, True)):
        result = run(graphs, hyper, device, args.steps, args.batch_size, bf16)
        results.append(result)
        print(f"{result['precision']:>14}: {result['structures_per_s']:8.1f} structures/s, peak memory "
              f"{result['peak_memory_mib']} MiB, loss {result['loss_first_20']} -> {result['loss_last_20']} "
              f"over {args.steps} steps of {args.batch_size}")
    print(json.dumps({"device": str(device), "graph_seconds": round(graph_seconds, 2), "features": features,
                      "runs": results}))


if __name__ == "__main__":
    main()
