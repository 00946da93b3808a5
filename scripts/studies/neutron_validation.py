"""The neutron validation table of ``docs/neutron.md``: every potential against the measured neutron data
of ``../shared/data/measured/phdos`` (or any folder with the same files), one-phonon against multiphonon,
with the figures.

    python scripts/studies/neutron_validation.py ../shared/data/measured/phdos/multiphonon -o docs/figures \\
        [--potentials 7net-0 ...] [--json runs/neutron_validation.json]

Rows: potential x {Al S(Q,E) map, V S(Q,E) map, V DOS, diamond full range}. The maps are compared with
the one-phonon prediction (``phonon_order=1``) and with the n-phonon terms chosen automatically; the V DOS
(a multiphonon-corrected reduction of the V map, so one-phonon by construction) with the neutron-weighted
DOS; diamond, of which no spectrum is measured here, by its highest mode against the Raman line (1332.5
cm^-1 = 165.2 meV, the zone-centre optical mode; Solin & Ramdas, Phys. Rev. B 1, 1687 (1970)). The
instrument is ARCS (SNS) for both maps (V: Ei = 120 meV as the data say; Al: Ei = 80 meV, the multiphonon
example's setting, assumed on the same spectrometer), its resolution from resins (PyChop), T = 300 K.
Structures: the textbook cells in data/examples. Seconds: the physics prediction plus the comparison, on
this machine's threads.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from equispec.analysis import compare_spectra
from equispec.analysis.readers import read_measured_dos, read_measured_sqe
from equispec.analysis.sqe import compare_sqe
from equispec.workflows import load_model
from equispec.physics.neutron import instrument_resolution
from equispec.plots import plot_comparison
from equispec.nn.pretrained.table import POTENTIAL_NAMES, check_installed, get_potential

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"
MAPS = [("Al S(Q,E)", "Al.cif", "Al_Ei80meV_sqe.npz", 80.0), ("V S(Q,E)", "V.cif", "V_ARCS_Ei120meV_300K_sqe.npz", 120.0)]
V_DOS = ("V DOS", "V.cif", "V_ARCS_Ei120meV_300K_dos.csv", 120.0)
#: Diamond's zone-centre optical mode (Raman), the top of its phonon spectrum, in meV.
DIAMOND_TOP_MEV = 165.2


def _row(case, potential, order, scores, seconds, **extra) -> dict:
    return {"case": case, "potential": potential, "phonon_order": order, **scores, "seconds": round(seconds, 1),
            **extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="folder with the measured files")
    parser.add_argument("-o", "--output", required=True, help="folder for the figures")
    parser.add_argument("--potentials", nargs="+", default=list(POTENTIAL_NAMES))
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    folder, figures = Path(args.folder), Path(args.output)
    figures.mkdir(parents=True, exist_ok=True)
    rows = []

    def emit(row):
        rows.append(row)
        print(json.dumps(row), flush=True)

    for name in args.potentials:
        potential = get_potential(name)
        check_installed(potential)
        predictor = load_model("phdos", mode="physics", potential=potential.name)
        stem = potential.name.replace(":", "-")
        predictions = {}
        for structure in ("Al.cif", "V.cif", "C_diamond.cif"):
            started = time.perf_counter()
            predictions[structure] = (predictor.predict([EXAMPLES / structure])[0], time.perf_counter() - started)
        for case, structure, measured_file, ei in MAPS:
            measured = read_measured_sqe(folder / measured_file)
            prediction, predict_seconds = predictions[structure]
            for order in (1, "auto"):
                started = time.perf_counter()
                result = compare_sqe(prediction, measured, resolution=instrument_resolution("ARCS", ei),
                                     temperature_k=300.0, ei_mev=ei, phonon_order=order)
                seconds = predict_seconds + time.perf_counter() - started
                if order == "auto":
                    plot_comparison(result, figures / f"{Path(measured_file).stem}_{stem}.png")
                emit(_row(case, potential.name, result.details["phonon_order"],
                          {k: result.scores[k] for k in ("pearson", "cosine", "chi2_reduced")}, seconds,
                          term_shares=result.details["term_shares"]))
        case, structure, measured_file, ei = V_DOS
        prediction, seconds = predictions[structure]
        started = time.perf_counter()
        result = compare_spectra(prediction, read_measured_dos(folder / measured_file),
                                 resolution_mev=instrument_resolution("ARCS", ei))
        plot_comparison(result, figures / f"{Path(measured_file).stem}_{stem}.png")
        emit(_row(case, potential.name, None, {k: result.scores[k] for k in ("pearson", "cosine", "wasserstein")},
                  seconds + time.perf_counter() - started))
        prediction, seconds = predictions["C_diamond.cif"]
        full = prediction.full_range
        top = float(full.energy_mev[full.dos > 0.01 * full.dos.max()].max())
        emit(_row("diamond full range", potential.name, None, {"highest_mode_mev": round(top, 1),
                  "raman_mev": DIAMOND_TOP_MEV, "error_percent": round(100 * (top / DIAMOND_TOP_MEV - 1), 1)},
                  seconds))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    print("\n| case | potential | phonon terms | Pearson | cosine | reduced χ² | seconds |\n|---|---|---|---|---|---|---|")
    for r in rows:
        if "highest_mode_mev" in r:
            print(f"| {r['case']} | {r['potential']} | | highest mode {r['highest_mode_mev']} meV "
                  f"({r['error_percent']:+.1f} % from Raman) | | | {r['seconds']} |")
        else:
            print(f"| {r['case']} | {r['potential']} | {r['phonon_order'] or ''} | {r['pearson']:.3f} | "
                  f"{r['cosine']:.3f} | {r.get('chi2_reduced', float('nan')):.3g} | {r['seconds']} |")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
