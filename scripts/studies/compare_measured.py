"""Real-pair checks of the comparison layer; prints one table row per check.

    python scripts/studies/compare_measured.py [--data ../shared/data] [--xas-model xas-cu-k] [--phdos-model phdos]

- anatase Ti K: Lightshow's FEFF spectrum vs the measurement (Lightshow reports cosine 0.990,
  Pearson 0.958, Spearman 0.765);
- bcc V: the phonon model's prediction vs the measured neutron-weighted DOS (ARCS, Ei = 120 meV);
- Cu K HERFD standards: identify among Cu compounds of the OmniXAS set, with the FEFF spectra themselves
  (look-up) and, when it loads, with the Cu XAS model (``--xas-model``).

Reported in ``docs/comparing.md`` (the real-pair table and the Cu K HERFD identification).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from pymatgen.analysis.xas.spectrum import XAS
from pymatgen.core import Lattice, Structure

from equispec import compare, identify
from equispec.analysis import compare_xas, read_measured_xas
from equispec.errors import EquispecError

#: Measured Cu K HERFD standards -> the OmniXAS entry of that phase (ground-state polymorph); None when the
#: data set has no spectrum for it (tenorite CuO mp-704645 is a withheld test material; no sulfides, no Cu).
CU_MEASURED = {"CuHERFD_standards__CuHERFD_Cu_I_O_001.txt": "mp-361",      # Cu2O cuprite
               "CuHERFD_standards__CuHERFD_CuSO4_001.txt": "mp-20525",     # anhydrous CuSO4 (hydration unknown)
               "CuHERFD_standards__CuHERFD_nanoCuO_001.txt": "mp-704645"}  # CuO tenorite (structure only)
CU_CANDIDATES = ["mp-361", "mp-20525", "mp-704645", "mp-1478", "mp-510752", "mp-28491", "mp-4386", "mp-25229",
                 "mp-33546", "mp-1692"]


def row(*cells):
    print(" | ".join(str(c) for c in cells))


def fmt(c):
    s = c.scores
    shift = f"{c.shift_ev:+.2f}" if c.shift_ev is not None else "-"
    return f"{s['mse']:.4g} | {s['cosine']:.3f} | {s['pearson']:.3f} | {s['spearman']:.3f} | {s['wasserstein']:.3g} | {shift}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2].parent / "shared" / "data"))
    parser.add_argument("--phdos-model", default="phdos")
    parser.add_argument("--xas-model", default="xas-cu-k")
    args = parser.parse_args(argv)
    data = Path(args.data)
    warnings.filterwarnings("ignore")
    row("check", "settings", "mse", "cosine", "pearson", "spearman", "wasserstein", "shift (eV)")

    anatase = data / "xas" / "lightshow_anatase_ti_k"
    energy, mu = np.loadtxt(anatase / "anatase_theory_FEFF.txt").T
    feff = XAS(energy, mu, Structure.from_file(anatase / "structures" / "mp-390_POSCAR"), "Ti", "K")
    measured = read_measured_xas(data / "measured" / "xas" / "lightshow" / "anatase_TiO2_Ti_K_exp.txt")
    for window, core_hole in ((35.0, None), (40.0, None), (40.0, 0.0)):
        c = compare_xas(feff, measured, window_ev=window, core_hole_ev=core_hole)
        row("anatase Ti K, FEFF vs exp", f"window {window:g} eV, core hole {c.details['core_hole_ev']:g} eV", fmt(c))

    v_dos = data / "measured" / "phdos" / "multiphonon" / "V_ARCS_Ei120meV_300K_dos.csv"
    with tempfile.TemporaryDirectory() as tmp:
        v = Path(tmp) / "V_bcc.cif"
        Structure(Lattice.cubic(3.03), ["V", "V"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(filename=str(v))
        for resolution in (None, 3.0):
            c = compare(v, v_dos, args.phdos_model, resolution_mev=resolution)
            row(f"bcc V DOS, {args.phdos_model} vs ARCS", f"resolution {resolution or 0:g} meV", fmt(c))

        from equispec.inference import ReferenceXasPredictor

        reference = ReferenceXasPredictor(data / "xas" / "omnixas_cu_feff")
        folder = Path(tmp) / "cu"
        folder.mkdir()
        for material_id in CU_CANDIDATES:
            (folder / f"{material_id}.POSCAR").write_text(reference.dataset.poscars[material_id])
        feff_candidates = [str(folder / f"{m}.POSCAR") for m in CU_CANDIDATES if m in reference._rows]
        try:
            from equispec.workflows import load_model

            models = [("FEFF look-up", reference, feff_candidates),
                      (args.xas_model, load_model(args.xas_model), [str(p) for p in sorted(folder.iterdir())])]
        except EquispecError as exc:
            print(f"# {args.xas_model}: not available ({exc}); Cu rows for the model are left out", file=sys.stderr)
            models = [("FEFF look-up", reference, feff_candidates)]
        for label, model, candidates in models:
            for file, truth in CU_MEASURED.items():
                if truth not in {Path(c).stem for c in candidates}:
                    continue
                measured = data / "measured" / "xas" / "larch_athena_extracted" / file
                # calibration: the other standard whose phase is among the candidates (same beamline and session)
                others = [(m, (str(folder / f"{m}.POSCAR"), data / "measured" / "xas" / "larch_athena_extracted" / f))
                          for f, m in CU_MEASURED.items() if f != file and m in {Path(c).stem for c in candidates}]
                modes = [("per-candidate", {"shift_mode": "per-candidate"}), ("common fit", {})]
                modes += [(f"calibrated on measured {m}", {"calibration": o}) for m, o in others]
                for mode, extra in modes:
                    ranked = identify(measured, candidates, model, rank_by="cosine", **extra)
                    names = [Path(c.name).stem for c in ranked]
                    best = ranked[names.index(truth)]
                    row(f"Cu K {file.split('__')[-1][8:-8]}, {label}",
                        f"{mode}: rank of {truth} by cosine {names.index(truth) + 1}/{len(names)} (first: {names[0]}"
                        f" {ranked[0].scores['cosine']:.4f})", fmt(best))
    return 0


if __name__ == "__main__":
    sys.exit(main())
