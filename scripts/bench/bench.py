"""Side by side on this machine: the published e3nn phonon-DOS model against equispec's models.

    python scripts/bench/bench.py [--out runs/bench.json] [--reference-minutes 30] [--quick]

In one run, on the same data and split (``versus_reference.py``):

1. The reference (``_reference_e3nn.py``: e3nn's ``gate_points_2101.Network`` with the settings of the Chen,
   Andrejevic et al. phonon-DOS tutorial, float64, batch size 1) trains in its own process with one thread, for at
   most ``--reference-minutes``, writing one JSON line per epoch.
2. Meanwhile this process trains each ``--equispec-configs`` file with ``equispec.workflows.train`` (one
   thread, one after the other), timing every epoch and recording the valid MSE and MAE its training logs.
3. When the reference has stopped: inference throughput of every model (pre-built graphs, batched and one
   by one; end to end from CIF files of the valid structures), with ``--inference-threads`` threads, and
   the cold start of ``equispec predict`` on one CIF in a fresh interpreter.

``--inference-only`` (``shipped.py``) skips the training (1 and 2) and measures the shipped models alone, the
figures of issue 13: pretrained featurization, the model on pre-built graphs and end to end from CIF files, each on
its own, the cold start, and the physics mode's median seconds per valid structure (``--physics-n`` of them; with
``--physics-compare`` also through sevenn's ASE calculator one supercell at a time, as before issue 13).

``--speed`` (issue 24, ``speed.py``) skips the training too and puts each figure beside what a user gets without
equispec, in one run: the cold start of ``equispec --help`` and ``equispec predict CIF`` against
``python -c "import torch"`` (``--cold-start-repeats`` fresh processes of each, interleaved); the physics mode
(``physics_dos`` with the partial DOS) against sevenn's ASE calculator + phonopy as phonopy documents it
(``plain_phonopy_dos``), for each of ``--potentials`` on ``--physics-n`` valid structures, interleaved, with the
largest total-DOS difference; the shipped phdos model end to end from CIF files. ``--speed --quick`` takes about a
minute.

    python scripts/bench/bench.py --speed [--out runs/bench-speed.json] [--physics-n 20] [--potentials 7net-0 7net-l3i5]

Prints a markdown table (with the date, machine and versions) for the README and writes everything as
JSON to ``--out``; the per-model files (epoch logs, trained models, CIF files) go to ``--work-dir``.
The reference's valid metrics and those of equispec's exported models come from ``spectrum_metrics``. Every
time-based figure counts from the start of a model's data preparation (reading the CSV, features, graphs), not
from the first epoch, unless it says "per epoch". Where the end-to-end time goes is measured stage by stage through
the predictor's public methods (``check``, ``features``, ``graphs``, ``predict_graphs``).

Every file here imports equispec's public names only (``equispec.__all__``, ``equispec.workflows.__all__``;
``tests/scripts/test_public_names.py``), so the benchmark times what a user can call.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import shipped
import speed
import versus_reference
from common import ROOT, SHARED_PHDOS, child_env
from speed import SPEED, SPEED_POTENTIALS, SPEED_QUICK

QUICK = {"limit_train": 32, "limit_valid": 16, "max_epochs": 2, "reference_minutes": 1.5, "inference_n": 16,
         "inference_threads": 1, "one_by_one": 8,
         "min_seconds": 0.5, "cold_start_repeats": 1}


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


def main(argv=None) -> int:
    args = parse_args(argv)
    wall_start = time.perf_counter()
    if args.speed:
        return speed.run(args, wall_start)
    if args.inference_only:
        return shipped.run(args, child_env(), wall_start)
    return versus_reference.run(args, child_env(), wall_start)


if __name__ == "__main__":
    sys.exit(main())
