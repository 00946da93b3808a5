"""Record what the CLI writes for the bundled examples (and the valid-split scores of both shipped models), or
check that a refactor left it unchanged.

    python scripts/tools/behaviour_snapshot.py record runs/snapshot-before [--shared ../shared/data] [--no-evaluate]
    python scripts/tools/behaviour_snapshot.py check runs/snapshot-before runs/snapshot-after

``record`` runs each command below with this interpreter (``python -m equispec``; set PYTHONPATH to score
another checkout) and keeps its outputs and stdout. ``check`` requires every file to be byte-identical (the
output folder's own path aside), except the ``evaluate --json`` outputs, whose numbers must agree to 1e-6
(relative), and keys that hold timings. Run both records with the same thread count (OMP_NUM_THREADS=1).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "data" / "examples"


def commands(shared: Path, evaluate: bool) -> dict[str, list[str]]:
    """Name -> CLI arguments; ``{out}`` is replaced by the output folder."""
    measured = shared / "measured"
    cases = {
        "predict_phdos": ["predict", str(EXAMPLES), "-o", "{out}/phdos.csv", "--plot", "{out}/phdos.png"],
        "predict_phdos_json": ["predict", str(EXAMPLES), "-o", "{out}/phdos.json"],
        "predict_xas": ["predict", str(EXAMPLES / "Cu.cif"), str(EXAMPLES / "Cu2O.cif"), "--model", "xas-cu-k",
                        "-o", "{out}/xas.json", "--plot", "{out}/xas.png"],
        "predict_xas_csv": ["predict", str(EXAMPLES / "Cu.cif"), str(EXAMPLES / "Cu2O.cif"), "--model", "xas-cu-k",
                            "-o", "{out}/xas.csv"],
        "predict_hybrid": ["predict", str(EXAMPLES / "Si.cif"), "--mode", "hybrid", "-o", "{out}/hybrid.json"],
        "predict_ins": ["predict", str(EXAMPLES / "Al.cif"), "--mode", "physics", "--ins", "--ei", "80",
                        "-o", "{out}/ins.json"],
        "compare_phdos": ["compare", str(EXAMPLES / "V.cif"),
                          str(measured / "phdos/multiphonon/V_ARCS_Ei120meV_300K_dos.csv"), "--model", "phdos", "--json",
                          "--plot", "{out}/compare_V.png"],
        "compare_xas": ["compare", str(EXAMPLES / "Cu.cif"), str(measured / "xas/larch_examples/cu_50k.xmu"),
                        "--model", "xas-cu-k", "--json", "--plot", "{out}/compare_Cu.png"],
        "compare_sqe": ["compare", str(EXAMPLES / "Al.cif"), str(measured / "phdos/multiphonon/Al_Ei80meV_sqe.npz"),
                        "--model", "phdos", "--mode", "physics", "--json"],
        "identify_xas": ["identify", str(measured / "xas/larch_examples/cu_50k.xmu"), "--candidates",
                         str(EXAMPLES / "Cu.cif"), str(EXAMPLES / "Cu2O.cif"), "--model", "xas-cu-k", "--json"],
    }
    if evaluate:
        cases["evaluate_phdos"] = ["evaluate", "--model", "phdos", "--data", str(shared / "phdos/phdos_trainval.csv"),
                                   "--ids", str(shared / "phdos/splits/valid_mp_ids.txt"), "--json"]
        cases["evaluate_xas"] = ["evaluate", "--model", "xas-cu-k", "--data", str(shared / "xas/omnixas_cu_feff"),
                                 "--split", "val", "--json"]
    return cases


def record(out: Path, shared: Path, evaluate: bool, only: list[str] | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, arguments in commands(shared, evaluate).items():
        if only and name not in only:
            continue
        arguments = [a.replace("{out}", str(out)) for a in arguments]
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "equispec", *arguments], capture_output=True, text=True,
                              cwd=ROOT)
        (out / f"{name}.stdout").write_text(done.stdout)
        (out / f"{name}.rc").write_text(f"{done.returncode}\n")
        print(f"{name}: exit {done.returncode}, {time.perf_counter() - start:.0f} s", flush=True)
        if done.returncode:
            print(done.stderr[-2000:], file=sys.stderr)


def _close(a, b, path: str, problems: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            problems.append(f"{path}: keys differ {sorted(set(a) ^ set(b))}")
        for key in set(a) & set(b):
            if "time" not in key and "seconds" not in key:
                _close(a[key], b[key], f"{path}.{key}", problems)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for k, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{k}]", problems)
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if not math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12):
            problems.append(f"{path}: {a} != {b}")
    elif a != b:
        problems.append(f"{path}: {a!r:.80} != {b!r:.80}")


def _bytes(path: Path, folder: Path) -> bytes:
    """A file's bytes; in printed output, the output folder's own path (``wrote FOLDER/...``) as ``{out}``."""
    data = path.read_bytes()
    return data.replace(str(folder.resolve()).encode(), b"{out}") if path.suffix == ".stdout" else data


def check(before: Path, after: Path) -> int:
    problems = []
    names = sorted({p.name for p in before.iterdir()} | {p.name for p in after.iterdir()})
    for name in names:
        a, b = before / name, after / name
        if not a.exists() or not b.exists():
            problems.append(f"{name}: only in {'after' if b.exists() else 'before'}")
        elif name.startswith("evaluate_") and name.endswith(".stdout"):
            _close(json.loads(a.read_text()), json.loads(b.read_text()), name, problems)
        elif _bytes(a, before) != _bytes(b, after):
            problems.append(f"{name}: bytes differ")
    for line in problems:
        print(line)
    print(f"{len(names)} files compared, {len(problems)} differences")
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("record")
    r.add_argument("out", type=Path)
    r.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    r.add_argument("--no-evaluate", action="store_true", help="skip the two valid-split evaluations (minutes)")
    r.add_argument("--only", nargs="+", metavar="NAME", help="run only these commands")
    c = sub.add_parser("check")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "record":
        record(args.out.resolve(), args.shared.resolve(), not args.no_evaluate, args.only)
        return 0
    return check(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
