"""``bench.py --speed`` (issue 24): each equispec figure beside what a user gets without equispec, measured in one
run: cold starts against ``import torch``, the physics mode against sevenn's ASE calculator + phonopy as phonopy
documents it (:func:`plain_phonopy_dos`), the shipped phdos model end to end from CIF files (see ``bench.py``'s
docstring)."""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from pathlib import Path

from common import (busy_cpus, child_env, default_dtype, draw_valid_ids, fmt_busy, fmt_rate, inference_set,
                    markdown_table, new_result, percentile, staged_seconds, threads, timed_run, write_result)

#: the targets on a 2-core CPU, the potentials and the defaults (``inference_n`` None: all of the valid split)
SPEED_TARGETS = {"help_s": 1.0, "predict_s": 3.0, "files_per_s": 60.0, "physics_median_s": 5.0,
                 "physics_ratio": 4.0, "physics_potential": "7net-l3i5"}
SPEED_POTENTIALS = ("7net-0", "7net-l3i5")
SPEED = {"physics_n": 20, "potentials": SPEED_POTENTIALS, "cold_start_repeats": 5, "inference_n": None}
SPEED_QUICK = {"physics_n": 2, "potentials": ("7net-0",), "cold_start_repeats": 2, "inference_n": 20}



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


def bench_speed_physics(table, valid_ids: list[str], n: int, potentials: list[str], warm_up_file: str) -> dict:
    """Seconds per structure of ``physics_dos`` (``equispec.workflows``; with the partial DOS, what
    ``predict --mode physics`` computes) and of :func:`plain_phonopy_dos` through sevenn's own ASE calculator,
    on ``n`` valid structures drawn by :func:`common.draw_valid_ids`, interleaved structure by structure (the
    order alternating), after one untimed warm-up of each per potential (on ``warm_up_file``, a small cell: it loads
    the potential); and how far the two differ: forces, force constants and total DOS. With more than one torch
    thread, sevenn's forces of the same cell vary from run to run in float32's last digits (the order of its sums),
    and the tetrahedron DOS at 1 cm^-1 steps magnifies that near sharp features and soft modes; with one thread the
    two pipelines give the same forces to the bit (measured)."""
    import numpy as np
    import torch
    from pymatgen.core import Structure
    from sevenn.calculator import SevenNetCalculator

    from equispec import EquispecError
    from equispec.workflows import PhysicsDosSettings, physics_dos

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
    public methods (:func:`common.staged_seconds`): where the time goes."""
    from equispec import load_model
    from equispec.workflows import read_ids

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
    stages = staged_seconds(model, paths, batch_size)
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
        (f"Measured {result['date']} with `python scripts/bench/bench.py --speed{' --quick' if s['quick'] else ''}` "
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


def run(args, wall_start: float) -> int:
    """``--speed``: see :func:`speed_cold_start`, :func:`bench_speed_physics` and :func:`bench_speed_files`."""
    import torch

    from equispec.workflows import read_ids, read_phdos_csv

    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.inference_threads)
    env = {**child_env(), "OMP_NUM_THREADS": str(args.inference_threads)}
    result = new_result(args, mode="speed", torch_threads=torch.get_num_threads())
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
