"""CPU seconds on one thread (``time.process_time``): figures that stay meaningful when other jobs share the cores.

    PYTHONPATH=SRC python scripts/bench/bench_cpu_seconds.py features CIF_DIR          # features and end to end
    PYTHONPATH=SRC python scripts/bench/bench_cpu_seconds.py physics ID [ID ...]      # batched vs ASE-calculator forces
    PYTHONPATH=SRC python scripts/bench/bench_cpu_seconds.py cold                     # where a cold predict goes

``SRC`` picks the code measured (this tree's ``src``, or ``git archive COMMIT src checkpoints`` unpacked
elsewhere for a before/after comparison); it needs ``equispec.workflows``, whose public names are all this imports
from equispec. Wall-clock throughput belongs to ``scripts/bench/bench.py`` on an idle machine; these figures are
what one core does.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import warnings
from pathlib import Path

cpu = time.process_time
ROOT = Path(__file__).resolve().parents[2]


def features(folder: str) -> dict:
    """Shipped phdos: SevenNet-0 features of structures read beforehand, and ``predict`` of the CIF files."""
    from equispec import load_model
    from equispec.workflows import read_structure

    paths = sorted(str(p) for p in Path(folder).glob("*.cif"))
    predictor = load_model("phdos", device="cpu")
    predictor.predict(paths[:2])  # loads the featurizer once, as a long-lived process would
    structures = [read_structure(p) for p in paths]
    started = cpu()
    predictor.features(structures)
    features_s = cpu() - started
    started = cpu()
    predictor.predict(paths, batch_size=64)
    end_to_end_s = cpu() - started
    return {"n": len(paths), "features_per_cpu_s": len(paths) / features_s,
            "end_to_end_per_cpu_s": len(paths) / end_to_end_s}


def physics(ids: list[str]) -> dict:
    """``physics_dos`` (total DOS) per structure: batched forces, then sevenn's ASE calculator (SevenNet-0, float32)
    one supercell at a time (the code before issue 13), and the largest difference of the two DOS."""
    import numpy as np
    import torch
    from sevenn.calculator import SevenNetCalculator

    from equispec.workflows import PhysicsDosSettings, physics_dos, read_phdos_csv

    table = read_phdos_csv(ROOT.parent / "shared" / "data" / "phdos" / "phdos_trainval.csv").subset(ids, "ids")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    calculator = SevenNetCalculator(PhysicsDosSettings().potential, device="cpu")  # the default potential
    torch.set_default_dtype(previous)
    physics_dos(table.structures[0], name="warm-up", partial=False)
    rows = []
    for mp_id, structure in zip(table.ids, table.structures):
        started = cpu()
        new = physics_dos(structure, name=mp_id, partial=False)
        batched_s = cpu() - started
        started = cpu()
        old = physics_dos(structure, calculator, name=mp_id, partial=False)
        rows.append({"id": mp_id, "atoms": len(structure), "displacements": new.num_displacements,
                     "batched_cpu_s": batched_s, "calculator_cpu_s": cpu() - started,
                     "dos_difference": float(np.abs(new.dos - old.dos).max())})
        print(json.dumps(rows[-1]), flush=True)
    return {"rows": rows, "median_batched_cpu_s": statistics.median(r["batched_cpu_s"] for r in rows),
            "median_calculator_cpu_s": statistics.median(r["calculator_cpu_s"] for r in rows),
            "largest_dos_difference": max(r["dos_difference"] for r in rows)}


def cold() -> dict:
    """CPU seconds of each step of a cold ``predict`` of one CIF, in the order the CLI takes them (run it in a
    fresh interpreter: ``python scripts/bench/bench_cpu_seconds.py cold``)."""
    marks = [("start", cpu())]
    import torch  # noqa: F401
    marks.append(("import torch", cpu()))
    import torch_geometric  # noqa: F401
    marks.append(("import torch_geometric (imports torch._dynamo)", cpu()))
    import e3nn.o3  # noqa: F401
    marks.append(("import e3nn", cpu()))
    import pymatgen.io.cif  # noqa: F401
    marks.append(("import pymatgen.io.cif", cpu()))
    from equispec import load_model
    marks.append(("import equispec's load_model (the rest)", cpu()))
    predictor = load_model("phdos", device="cpu")
    marks.append(("build and load the shipped phdos ensemble (5 members)", cpu()))
    from equispec.workflows import read_structure
    si = read_structure(ROOT / "data" / "examples" / "Si.cif")
    marks.append(("import equispec.workflows, read Si.cif", cpu()))
    predictor.features([si])
    marks.append(("first features: build SevenNet-0, featurize Si", cpu()))
    predictor.predict(si)
    marks.append(("check Si, features, graph, predict", cpu()))
    steps = {b: round(tb - ta, 2) for (_, ta), (b, tb) in zip(marks, marks[1:])}
    return {"steps_cpu_s": steps, "total_cpu_s": round(marks[-1][1] - marks[0][1], 2)}


def main() -> None:
    warnings.simplefilter("ignore")
    command, *rest = sys.argv[1:]
    if command != "cold":  # a cold start times `import torch` itself (run it with OMP_NUM_THREADS=1)
        import torch

        torch.set_num_threads(1)
    result = {"features": lambda: features(rest[0]), "physics": lambda: physics(rest), "cold": cold}[command]()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
