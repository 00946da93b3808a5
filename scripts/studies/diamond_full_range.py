"""Diamond end to end above the fast model's 124 meV grid: ``predict --mode physics --ins`` and ``compare``
over the full range. No measured diamond spectrum is in ../shared, so the "measurement" here is the
neutron-weighted DOS of the other potential (7net-l3i5, MAPS resolution at Ei = 250 meV) written as a
table: this shows the range and resolution handling, not the accuracy of either potential.

    python scripts/studies/diamond_full_range.py -o docs/figures

Reported in ``docs/neutron.md`` (diamond above the fast model's range).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"


def run(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "equispec", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"equispec {' '.join(args)} failed: {result.stderr.strip()}")
    print(result.stderr.strip(), file=sys.stderr) if result.stderr.strip() else None
    return result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", required=True, help="folder for the figures")
    args = parser.parse_args()
    out = Path(args.output)
    diamond = str(EXAMPLES / "C_diamond.cif")
    neutron = ["--ins", "--ei", "250", "--instrument", "MAPS"]
    print(run("predict", diamond, "--mode", "physics", *neutron, "--plot", str(out / "diamond_ins_7net-0.png")))
    with tempfile.TemporaryDirectory() as folder:
        reference = Path(folder) / "diamond_l3i5.npz"
        run("predict", diamond, "--mode", "physics", "--potential", "7net-l3i5", *neutron, "-o", str(reference))
        with np.load(reference, allow_pickle=False) as arrays:
            table = np.column_stack([arrays["energy_mev"], arrays["neutron_dos"]])
        measured = Path(folder) / "diamond_l3i5_neutron_dos.csv"
        np.savetxt(measured, table, delimiter=",", header="energy_meV,dos_per_meV", comments="")
        for mode in ("physics", "fast"):
            record = json.loads(run("compare", diamond, str(measured), "--model", "phdos", "--mode", mode,
                                    "--ei", "250", "--instrument", "MAPS", "--json",
                                    "--plot", str(out / f"diamond_compare_{mode}.png")))
            print(json.dumps({"mode": mode, **{k: record[k] for k in ("pearson", "cosine", "e_min", "e_max")}}))


if __name__ == "__main__":
    main()
