"""Physics-mode predictions against the measured neutron data of ``../shared/data/measured/phdos`` (or any
folder with the same files): the Al and V powder S(|Q|, E) maps and the V neutron-weighted DOS, for each
potential, scored and drawn as the README shows them.

    python scripts/neutron_measured.py ../shared/data/measured/phdos/multiphonon -o docs/figures [--relax]

The instrument is ARCS (SNS) for both maps (V: Ei = 120 meV as the data say; Al: Ei = 80 meV, the
multiphonon example's setting, assumed on the same spectrometer), its resolution from resins (PyChop fit),
T = 300 K. Structures are the textbook cells in data/examples (V: a = 3.0274 Å, Al: a = 4.0495 Å).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from equispec.analysis import compare, plot_comparison
from equispec.analysis.sqe import plot_sqe_comparison
from equispec.api import load_model
from equispec.physics import POTENTIALS
from equispec.physics.neutron import instrument_resolution

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"
CASES = [  # (label, structure, measured file, Ei in meV)
    ("Al S(Q,E)", "Al.cif", "Al_Ei80meV_sqe.npz", 80.0),
    ("V S(Q,E)", "V.cif", "V_ARCS_Ei120meV_300K_sqe.npz", 120.0),
    ("V DOS", "V.cif", "V_ARCS_Ei120meV_300K_dos.csv", 120.0),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="folder with the measured files")
    parser.add_argument("-o", "--output", required=True, help="folder for the figures")
    parser.add_argument("--relax", action="store_true")
    parser.add_argument("--potentials", nargs="+", default=list(POTENTIALS), choices=POTENTIALS)
    args = parser.parse_args()
    rows = []
    for potential in args.potentials:
        predictor = load_model("phdos", mode="physics", potential=potential, relax=args.relax)
        for label, structure, measured, ei in CASES:
            started = time.perf_counter()
            resolution = instrument_resolution("ARCS", ei)
            result = compare(EXAMPLES / structure, Path(args.folder) / measured, predictor, resolution_mev=resolution,
                             temperature_k=300.0)
            stem = f"{Path(measured).stem}_{potential}{'_relaxed' if args.relax else ''}"
            figure = Path(args.output) / f"{stem}.png"
            (plot_sqe_comparison if measured.endswith(".npz") else plot_comparison)(result, figure)
            record = {"case": label, "potential": potential, "relax": args.relax, **result.to_dict(),
                      "seconds": round(time.perf_counter() - started, 1), "figure": str(figure)}
            record.pop("details", None)
            rows.append(record)
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
