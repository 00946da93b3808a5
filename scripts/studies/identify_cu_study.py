"""Can any processing choice make ``identify`` name the measured Cu K HERFD standards? A grid over the choices.

    python scripts/studies/identify_cu_study.py [--data ../shared/data] [--xas-model xas-cu-k] [--feff-only | --all-standards]

For each measured standard whose phase has FEFF spectra in the OmniXAS Cu set (Cu2O, CuSO4) it ranks the
candidates of ``compare_measured.py`` (all Cu oxides and sulfates there) for every combination of

- shift: one per candidate, one common fitted shift, or the shift calibrated on the OTHER standard;
- score ranked by: mse, cosine, pearson, spearman, wasserstein;
- broadening of the measurement by a Lorentzian: 0; Gamma_K - Gamma_eff (1.02 eV for Cu), which takes a
  HERFD spectrum (effective width Gamma_eff = (Gamma_K^-2 + Gamma_L3^-2)^-1/2 for K-alpha1 detection) back
  to the full core-hole width that FEFF includes; and 1.5 eV;

with the FEFF spectra themselves (a look-up) and with the Cu model. One line per combination:
``predictor, broadening, shift, score, rank of Cu2O, rank of CuSO4`` (1 = first of the candidates).

``--all-standards`` instead ranks all seven HERFD standards of that session (Cu foil, Cu2O, CuO, Cu2S, CuS,
CuFeS2, CuSO4) among each other with the model, with the energy calibrated on the Cu foil (the usual
practice) as well as per-candidate and common shifts. The FEFF set has no metal or sulfides, so fcc Cu,
chalcopyrite, covellite and Cu2S are built here from textbook cells (Cu2S as the antifluorite
high-temperature cell, a stand-in for low chalcocite's 144-atom cell); they are outside the model's
training chemistry (Cu-O compounds).

Reported in ``docs/comparing.md`` ("Every processing choice, measured").
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path


from compare_measured import CU_CANDIDATES, CU_MEASURED
from equispec import identify
from equispec.analysis import read_measured_xas
from equispec.analysis.readers import MeasuredXas
from equispec.inference import ReferenceXasPredictor
from equispec.analysis.xas_processing import core_hole_fwhm_ev
from equispec.broadening import lorentzian_broaden, uniform_grid

SCORES = ("mse", "cosine", "pearson", "spearman", "wasserstein")
#: The seven Cu K HERFD standards of one session (xraylarch example project), by phase.
HERFD_SESSION = {"Cu": "Cu_Foil_001", "Cu2O": "Cu_I_O_001", "CuO": "nanoCuO_001", "Cu2S": "Cu2S_001",
                 "CuS": "CuS_002", "CuFeS2": "Chalcopyrite_001", "CuSO4": "CuSO4_001"}


def herfd_session_structures(reference: ReferenceXasPredictor) -> dict:
    """One structure per phase of ``HERFD_SESSION``: Cu-O phases from the OmniXAS set, the rest built."""
    from pymatgen.core import Lattice, Structure

    def from_set(material_id):
        return Structure.from_str(reference.dataset.poscars[material_id], fmt="poscar")

    return {"Cu": Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.615), ["Cu"], [[0, 0, 0]]),
            "Cu2O": from_set("mp-361"), "CuO": from_set("mp-704645"), "CuSO4": from_set("mp-20525"),
            "Cu2S": Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.56), ["S", "Cu"], [[0, 0, 0], [0.25] * 3]),
            "CuS": Structure.from_spacegroup("P6_3/mmc", Lattice.hexagonal(3.794, 16.332), ["Cu", "Cu", "S", "S"],
                                             [[1 / 3, 2 / 3, 0.75], [1 / 3, 2 / 3, 0.1071], [1 / 3, 2 / 3, 0.25],
                                              [0, 0, 0.0621]]),
            "CuFeS2": Structure.from_spacegroup("I-42d", Lattice.tetragonal(5.289, 10.423), ["Cu", "Fe", "S"],
                                                [[0, 0, 0], [0, 0, 0.5], [0.2574, 0.25, 0.125]])}


def all_standards(data: Path, reference: ReferenceXasPredictor, model_name: str) -> None:
    """Rank each of the seven standards among all seven phases with the model (see the module docstring)."""
    from equispec.workflows import load_model

    model = load_model(model_name)
    folder = data / "measured" / "xas" / "larch_athena_extracted"
    measured = {p: folder / f"CuHERFD_standards__CuHERFD_{f}.txt" for p, f in HERFD_SESSION.items()}
    print(f"{model_name} | shift | rank by | " + " | ".join(f"rank of {p}" for p in HERFD_SESSION))
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for phase, structure in herfd_session_structures(reference).items():
            files[phase] = str(Path(tmp) / f"{phase}.cif")
            structure.to(filename=files[phase])
        shifts = {"per-candidate": {"shift_mode": "per-candidate"}, "common fit": {},
                  "calibrated on the Cu foil": {"calibration": (files["Cu"], measured["Cu"])}}
        for shift, options in shifts.items():
            for score in ("mse", "cosine", "pearson"):
                ranks = []
                for truth in HERFD_SESSION:
                    names = [Path(c.name).stem for c in identify(measured[truth], list(files.values()), model,
                                                                 rank_by=score, **options)]
                    ranks.append(f"{names.index(truth) + 1}/7 (first {names[0]})")
                print(f"{shift} | {score} | " + " | ".join(ranks), flush=True)


def broaden_measured(measured: MeasuredXas, fwhm_ev: float) -> MeasuredXas:
    """The measurement convolved with a Lorentzian of ``fwhm_ev`` on a 0.05 eV grid (unchanged for 0)."""
    if fwhm_ev <= 0:
        return measured
    grid, mu = uniform_grid(measured.energy_ev, measured.mu, 0.05)
    return MeasuredXas(measured.name, grid, lorentzian_broaden(grid, mu, fwhm_ev), measured.element, measured.edge)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2].parent / "shared" / "data"))
    parser.add_argument("--xas-model", default="xas-cu-k")
    parser.add_argument("--feff-only", action="store_true", help="skip the model")
    parser.add_argument("--all-standards", action="store_true",
                        help="rank the seven HERFD standards among each other with the model instead")
    args = parser.parse_args(argv)
    data = Path(args.data)
    warnings.filterwarnings("ignore")
    if args.all_standards:
        all_standards(data, ReferenceXasPredictor(data / "xas" / "omnixas_cu_feff"), args.xas_model)
        return 0
    gamma_k, gamma_l3 = core_hole_fwhm_ev("Cu", "K"), core_hole_fwhm_ev("Cu", "L3")
    herfd = gamma_k - (gamma_k ** -2 + gamma_l3 ** -2) ** -0.5
    broadenings = (0.0, round(herfd, 2), 1.5)

    reference = ReferenceXasPredictor(data / "xas" / "omnixas_cu_feff")
    standards = {m: data / "measured" / "xas" / "larch_athena_extracted" / f for f, m in CU_MEASURED.items()
                 if m in reference._rows}
    predictors = [("FEFF look-up", reference)]
    if not args.feff_only:
        from equispec.workflows import load_model

        predictors.append((args.xas_model, load_model(args.xas_model)))
    print("predictor | measurement broadening (eV) | shift | rank by | " +
          " | ".join(f"rank of {m}" for m in standards))
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for material_id in CU_CANDIDATES:
            if material_id in reference._rows:
                files[material_id] = Path(tmp) / f"{material_id}.POSCAR"
                files[material_id].write_text(reference.dataset.poscars[material_id])
        candidates = [str(f) for f in files.values()]
        for label, predictor in predictors:
            for fwhm in broadenings:
                measured = {m: broaden_measured(read_measured_xas(f), fwhm) for m, f in standards.items()}
                for shift in ("per-candidate", "common fit", "calibrated on the other"):
                    for score in SCORES:
                        ranks = []
                        for truth in standards:
                            options = {"shift_mode": "per-candidate"} if shift == "per-candidate" else {}
                            if shift.startswith("calibrated"):
                                other = next(m for m in standards if m != truth)
                                options["calibration"] = (str(files[other]), measured[other])
                            ranked = identify(measured[truth], candidates, predictor, rank_by=score, **options)
                            names = [Path(c.name).stem for c in ranked]
                            ranks.append(f"{names.index(truth) + 1}/{len(names)} (first {names[0]})")
                        print(f"{label} | {fwhm:g} | {shift} | {score} | " + " | ".join(ranks), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
