"""``bench.py --inference-only`` (issue 13): the shipped models without training, and the inference measurements
of an equispec model that the default mode makes too (see ``bench.py``'s docstring)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from common import (busy_cpus, cold_start, default_dtype, fmt_busy, fmt_rate, inference_set, interpreter_start,
                    markdown_table, new_result, staged_seconds, threads, throughput, write_result)

#: issue 13's targets on this machine (the GPU one needs a GPU: scripts/bench/gpu_check.sh)
TARGETS_13 = {"files_per_s": 30.0, "cold_start_s": 4.0, "physics_median_s": 2.0}


def bench_equispec_inference(name_or_dir: str, structures, paths: list[str], args) -> dict:
    """Throughput of an equispec model on pre-built graphs and end to end from files, and where the
    end-to-end time goes (:func:`common.staged_seconds`: the stages one after the other, each as a share of
    their sum)."""
    from equispec import load_model

    predictor = load_model(name_or_dir)
    labels = [Path(p).name for p in paths]
    result = {"model": name_or_dir, "n_structures": len(paths),
              "ensemble_members": predictor.info.n_members, "pretrained": predictor.info.pretrained}
    graphs = predictor.graphs(list(structures), labels)
    if result["pretrained"]:  # the featurizer is warm now (built by predictor.graphs)
        result["features_per_s"] = throughput(lambda: predictor.features(list(structures)), len(structures),
                                              args.min_seconds)
    for batch_size in args.batch_sizes:
        result[f"graphs_per_s_batch{batch_size}"] = throughput(
            lambda: predictor.predict_graphs(graphs, batch_size=batch_size), len(graphs), args.min_seconds)
    result["graphs_per_s_one_by_one"] = throughput(
        lambda: predictor.predict_graphs(graphs, batch_size=1), len(graphs), args.min_seconds)

    predictor.predict(paths[:2])  # warm-up: loads a pretrained featurizer once, as a long-lived process would
    start = time.perf_counter()
    predictor.predict(paths, batch_size=max(args.batch_sizes))
    total = time.perf_counter() - start
    result["files_per_s_batched"] = len(paths) / total
    result["files_batched_s"] = total
    result["files_batch_size"] = max(args.batch_sizes)
    stages = staged_seconds(predictor, paths, max(args.batch_sizes))
    result["end_to_end_staged_s"] = stages
    result["end_to_end_share"] = {k: v / sum(stages.values()) for k, v in stages.items()}
    subset = paths[: args.one_by_one]
    start = time.perf_counter()
    for path in subset:
        predictor.predict(path)
    result["files_per_s_one_by_one"] = len(subset) / (time.perf_counter() - start)
    result["one_by_one_n"] = len(subset)
    return result


def bench_physics(table, valid_ids: list[str], n: int, compare: bool) -> dict:
    """Median seconds of ``physics_dos`` (total DOS only, as ``scripts/recipes/physics_dos_batch.py``) over ``n``
    valid structures drawn with seed 0; with ``compare``, the same structures with forces through sevenn's ASE
    calculator (SevenNet-0, float32, on the CPU) one supercell at a time (the code before issue 13), interleaved,
    and the largest DOS difference."""
    import numpy as np
    import torch
    from sevenn.calculator import SevenNetCalculator

    from common import draw_valid_ids
    from equispec import EquispecError
    from equispec.workflows import PhysicsDosSettings, physics_dos

    ids = draw_valid_ids(valid_ids, n)
    part = table.subset(ids, "valid ids")
    physics_dos(part.structures[0], name="warm-up", partial=False)  # loads the potential once, as predict would
    calculator = None
    if compare:
        with default_dtype(torch.float32):
            calculator = SevenNetCalculator(PhysicsDosSettings().potential, device="cpu")  # the default potential
    runs = {"batched": [], "calculator": []}
    largest_dos_difference = 0.0
    for mp_id, structure in zip(part.ids, part.structures):
        try:
            new = physics_dos(structure, name=mp_id, partial=False)
            runs["batched"].append(new.seconds)
            if compare:
                with default_dtype(torch.float32):
                    old = physics_dos(structure, calculator, name=mp_id, partial=False)
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


def run(args, env: dict, wall_start: float) -> int:
    """Issue 13's measurements of the shipped models (no training); see ``bench.py``'s docstring."""
    import torch

    from equispec import load_model
    from equispec.workflows import read_ids, read_phdos_csv, read_structure

    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    result = new_result(args, mode="inference-only", models={})
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
    result["bench_wall_s"] = time.perf_counter() - wall_start
    result["markdown"] = report(result)
    return write_result(result, args.out)


def report(result: dict) -> str:
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
            [key, "end to end, stage by stage: read / features / graphs / model",
             " / ".join(f"{100 * share[k]:.0f}" for k in ("read", "features", "graphs", "model")) + " %"],
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
        f"Measured {result['date']} with `python scripts/bench/bench.py --inference-only` (commit {result['git']}) "
        f"on {m['platform']}, {m['cpu']}, {m['cpus_usable']} CPUs usable, Python {m['python']}, torch {m['torch']}, "
        f"e3nn {m['e3nn']}. {threads(s['inference_threads'])}, {result['data']['n_inference']} structures. CPUs busy "
        f"with other processes: {fmt_busy(result['busy_cpus_start'])} at the start, "
        f"{fmt_busy(result['busy_cpus_end'])} at the end.",
        "",
        markdown_table(["model", "measurement", "value"], rows),
        "",
        markdown_table(["target (issue 13)", "model", "measured", "met"], target_rows),
    ]
    return "\n".join(lines)
