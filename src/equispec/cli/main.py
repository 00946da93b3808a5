"""``equispec predict | evaluate | train | ensemble | compare | identify``: each subcommand is a thin call into the Python API.

Any :class:`~equispec.errors.EquispecError` becomes ``equispec: error: SOURCE: problem`` on stderr and
exit status 2, with no traceback. Nothing here touches the network or loads torch before it is needed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import warnings

__all__ = ["main", "run", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="equispec", description="Predict phonon DOS and X-ray absorption spectra of crystals "
                                     "with E(3)-equivariant networks.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("predict", help="predict spectra of structure files (phonon DOS, or XAS per absorbing site)")
    p.add_argument("files", nargs="*", metavar="FILE", help="CIF, POSCAR or any file pymatgen/ASE reads, an "
                   "mp-id, or a folder (its structure files, sorted)")
    p.add_argument("--files-from", metavar="LIST", help="read more inputs from LIST, one per line ('-': stdin)")
    p.add_argument("--model", default="phdos",
                   help="shipped model (phdos, xas-cu-k) or model directory (default: phdos)")
    p.add_argument("-o", "--output", metavar="OUT", help="write spectra to OUT.csv, OUT.json or OUT.jsonl (one "
                   "record per line, streamed while the run goes on: the format for screening many structures)")
    p.add_argument("--plot", metavar="OUT.png", help="write a plot of the spectra")
    p.add_argument("--resume", action="store_true", help="-o OUT.jsonl: continue the OUT.jsonl.part of an "
                   "interrupted run, skipping the inputs whose names it already holds")
    p.add_argument("--block", metavar="NAME", help="CIF inputs: the data block to read (a CIF with several "
                   "structure blocks is refused without it)")
    p.add_argument("--batch-size", type=int, default=64)
    _add_memory_option(p)
    _add_device_option(p)
    p.add_argument("--mode", choices=["fast", "physics", "hybrid"], default="fast",
                   help="phonon DOS: fast = the network (default, for screening); physics = universal-potential "
                   "forces + phonopy (seconds per structure; full energy range at native resolution; reports "
                   "imaginary modes); hybrid = both, combined")
    _add_physics_options(p)
    _add_cache_options(p)
    _add_engine_options(p)
    p.add_argument("--ins", action="store_true", help="phonon DOS: inelastic neutron scattering as a powder "
                   "experiment sees it: neutron-weighted DOS and, in physics/hybrid mode, the powder S(|Q|,E) map "
                   "(Euphonic); -o takes OUT.json or OUT.npz")
    _add_neutron_options(p)
    p.add_argument("--dispersion", action="store_true", help="physics/hybrid: phonon branches along seekpath's "
                   "standard high-symmetry path (or --q-path), with the DOS beside them; -o takes OUT.csv or OUT.json")
    p.add_argument("--q-path", metavar="PATH", help="--dispersion: your own path, e.g. 'GAMMA -> X -> L' or "
                   "'0 0 0 -> 1 0 0 | 0.5 0.5 0.5 -> 0 0 0' (r.l.u. of the conventional cell; labels are seekpath's; "
                   "NAME=H K L names a point), or a file of Q points as for --sqe-path")
    p.add_argument("--sqe-path", metavar="PATH|FILE", help="physics/hybrid: single-crystal coherent one-phonon "
                   "S(Q,E) along a path in r.l.u. of the conventional cell ('2 0 0 -> 3 0 0 -> 3 1 0', labels as in "
                   "--q-path) or a file of Q points (H K L [LABEL] per line), with --temperature and --instrument/--ei "
                   "or --resolution-mev; -o takes OUT.json or OUT.npz")
    p.add_argument("--overlay-dispersion", action="store_true", help="--sqe-path: draw the branches over the map")

    e = sub.add_parser("evaluate", help="score a model on labelled data")
    e.add_argument("--model", default="phdos", help="shipped model name or model directory")
    e.add_argument("--data", required=True, metavar="CSV|DIR",
                   help="phonon DOS: CSV in the data set format; XAS: site-spectrum folder")
    e.add_argument("--ids", metavar="IDS.txt", help="phonon DOS: score only these mp-ids (one per line)")
    e.add_argument("--split", metavar="NAME", help="XAS: the split to score (val, test; default val)")
    e.add_argument("--json", action="store_true", help="print one JSON object (phonon DOS: n, mse, mae, r2, "
                   "wasserstein_cm1, and physics_failed in physics/hybrid mode; XAS: n, mse, median_mse, "
                   "baseline_median_mse, eta)")
    _add_device_option(e)
    e.add_argument("--mode", choices=["fast", "physics", "hybrid"], default="fast",
                   help="phonon DOS: score the network (fast, default), the physics DOS (universal-potential "
                   "forces + phonopy; a material where it fails is left out) or the hybrid (the network alone "
                   "where physics fails), as the README's valid figures were made")
    _add_physics_options(e)
    _add_cache_options(e)
    _add_engine_options(e)

    t = sub.add_parser("train", help="train a model from a YAML config")
    t.add_argument("config", metavar="CONFIG.yaml")
    t.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value, e.g. --set optim.max_epochs=10 (repeatable)")
    t.add_argument("--output-dir", help="override output_dir")
    t.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in the output "
                   "directory (automatic in a requeued SLURM job)")
    t.add_argument("--check", action="store_true", help="only check the config (keys, types, bounds) and that its "
                   "data exist, print it resolved, and exit: before submitting a cluster job")

    m = sub.add_parser("ensemble", help="merge trained model directories into one ensemble model")
    m.add_argument("members", nargs="+", metavar="MODEL_DIR")
    m.add_argument("-o", "--output", required=True, metavar="DIR", help="ensemble model directory to write")
    m.add_argument("--data", metavar="CSV|DIR", help="labelled data to score the ensemble on (stored as "
                   "valid_metrics): a phonon-DOS CSV or an XAS site-spectrum folder")
    m.add_argument("--ids", metavar="IDS.txt", help="phonon DOS: ids of the validation split in --data")
    m.add_argument("--split", metavar="NAME", help="XAS: the split of --data to score (default val)")

    c = sub.add_parser("compare", help="score a predicted spectrum against a measured one")
    c.add_argument("structure", metavar="STRUCTURE", help="structure file of the measured sample")
    c.add_argument("measured", metavar="MEASURED", help="measured XAS (XDI or energy/mu text) or phonon DOS table")
    c.add_argument("--model", required=True, help="shipped model name or model directory (phdos, xas-cu-k, ...)")
    c.add_argument("--plot", metavar="OUT.png", help="write the overlay with the residual (an S(Q,E) map: "
                   "measured | predicted | residual)")
    c.add_argument("--json", action="store_true", help="print one JSON object of scores (with e_min, e_max: the "
                   "compared range in the measurement's unit)")
    c.add_argument("--mode", choices=["fast", "physics", "hybrid"], default=None,
                   help="phonon DOS: how to predict (default fast; a measured S(Q,E) .npz needs physics or hybrid)")
    _add_physics_options(c)
    _add_neutron_options(c, compare=True)
    c.add_argument("--fit-energy-scale", action="store_true", help="phonon DOS table or S(Q,E) map: also fit one "
                   "factor s on the predicted phonon energies (force constants x s^2, bounded 0.7-1.4) and report it "
                   "with its error and the scores at s; the unscaled scores stay the headline")
    _add_processing_options(c)

    i = sub.add_parser("identify", help="rank candidate structures by agreement with a measured spectrum")
    i.add_argument("measured", metavar="MEASURED", help="measured XAS or phonon DOS file")
    i.add_argument("--candidates", nargs="+", required=True, metavar="FILES_OR_DIR",
                   help="candidate structure files, or a folder of them")
    i.add_argument("--model", required=True, help="shipped model name or model directory")
    i.add_argument("--top", type=int, metavar="K", help="print the best K only")
    i.add_argument("--rank-by", default="mse", choices=["mse", "cosine", "pearson", "spearman", "wasserstein"])
    i.add_argument("--json", action="store_true", help="print a JSON list, best first")
    i.add_argument("--calibrate", nargs=2, metavar=("STRUCTURE", "MEASURED"),
                   help="XAS: take the energy shift from a standard of known structure measured on the same scale")
    i.add_argument("--shift-mode", choices=["common", "per-candidate"], default="common",
                   help="XAS: one shift for all candidates (default) or each candidate's own best shift")
    _add_processing_options(i)
    _add_data_parser(sub)
    _add_serve_parser(sub)
    return parser


def _add_serve_parser(sub) -> None:
    """``equispec serve``: the local web page (needs the web extra)."""
    s = sub.add_parser("serve", help="serve a local web page: upload a structure and a measurement, see the "
                       "prediction and the comparison (needs the web extra)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine "
                   "only; any other needs --token)")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: a free one, printed)")
    s.add_argument("--token", nargs="?", const="", default=None, metavar="TOKEN",
                   help="require this token on every request (16+ characters); --token alone generates one and "
                   "prints it once in the address to open")
    s.add_argument("--max-upload-mb", type=float, default=20.0, metavar="MB",
                   help="largest request (all its files together; default 20)")
    s.add_argument("--jobs", type=int, default=1, metavar="N", help="physics, hybrid and S(Q,E) jobs running at "
                   "once, each in a worker process (default 1; the rest wait)")
    s.add_argument("--cache", metavar="DIR", help="physics cache folder (default: the command line's)")
    s.add_argument("--scheduler", metavar="ADDRESS", help="run a job's many-structure physics on this Dask "
                   "scheduler (tcp://HOST:8786) instead of a local process pool (docs/cluster.md)")


def _serve(args) -> int:
    from ..errors import InputError
    from ..web.server import serve

    if args.jobs < 1:
        raise InputError("--jobs", f"must be 1 or more (got {args.jobs})")
    scheduler = _scheduler_address(args)  # a wrong address fails now, not in the first job
    return serve(args.host, args.port, token=args.token or None, generate_token=args.token == "",
                 max_upload_mb=args.max_upload_mb, workers=args.jobs, scheduler=scheduler,
                 physics_cache=args.cache)


def _add_physics_options(p) -> None:
    from ..workflows.options import potential_names

    p.add_argument("--potential", metavar="NAME", help="physics/hybrid: universal potential for the forces: "
                   f"{', '.join(potential_names())} (chgnet ones need the chgnet extra; default: the one the hybrid "
                   "was fitted with)")
    p.add_argument("--relax", action="store_true", help="physics/hybrid: relax atomic positions at fixed cell "
                   "first (BFGS to 0.005 eV/Å)")


def _add_cache_options(p) -> None:
    cache = p.add_mutually_exclusive_group()
    cache.add_argument("--cache", metavar="DIR", help="physics/hybrid: keep each structure's forces and physics DOS "
                       "in DIR (predict and evaluate share it), so that an interrupted run resumes and a rerun calls "
                       "no potential (default: $EQUISPEC_CACHE_DIR/physics or ~/.cache/equispec/physics)")
    cache.add_argument("--no-cache", action="store_true", help="physics/hybrid: compute every physics DOS afresh "
                       "and store none")


def _add_engine_options(p) -> None:
    p.add_argument("--scheduler", metavar="ADDRESS", help="physics/hybrid: compute the physics DOS of the "
                   "structures on the existing Dask cluster whose scheduler is at ADDRESS (e.g. tcp://host:8786, or "
                   "the file of dask scheduler --scheduler-file); a cluster you control: tasks travel as pickles "
                   "(docs/cluster.md)")
    p.add_argument("--workers", type=int, metavar="N", help="physics/hybrid: compute them on N local processes "
                   "(default: one per core, at most one per structure to compute; 1: in this process)")


def _check_engine_args(args) -> None:
    """``--scheduler`` and ``--workers``: refused in fast mode, then checked as the engine checks them (out of
    range, or both) before any work (cheap checks only: the scheduler is asked later)."""
    from ..errors import InputError
    from ..workflows.options import check_engine

    given = [flag for flag, value in (("--scheduler", args.scheduler), ("--workers", args.workers))
             if value is not None]
    if given and args.mode == "fast":
        raise InputError(given[0], "is for --mode physics or hybrid")
    check_engine(args.scheduler, args.workers)


def _scheduler_address(args) -> str | None:
    """``--scheduler`` once a Dask scheduler has answered there (a wrong address fails before any work)."""
    if args.scheduler is None:
        return None
    from ..workflows.options import check_scheduler

    return check_scheduler(args.scheduler)


def _add_neutron_options(p, compare: bool = False) -> None:
    p.add_argument("--ei", type=float, metavar="MEV", help="neutron: incident energy of a direct-geometry "
                   "spectrometer (the S(Q,E) map is masked to its kinematic range, scattering angles 3-135 deg)"
                   + ("; S(Q,E): default the file's ei_mev" if compare else ""))
    p.add_argument("--temperature", type=float, default=None if compare else 300.0, metavar="K",
                   help="neutron: sample temperature for the Debye-Waller and Bose factors (default "
                   + ("the file's temperature_k, else 300, stated in the output)" if compare else "300)"))
    p.add_argument("--instrument", metavar="NAME", help="neutron: energy resolution of a named spectrometer "
                   "(resins: ARCS, SEQUOIA, CNCS, HYSPEC, MAPS, MARI, MERLIN, LET, TOSCA, VISION, ...; needs --ei)")
    p.add_argument("--phonon-order", default="auto", metavar="auto|N", help="neutron: n-phonon terms of the "
                   "powder map in the incoherent approximation: auto (default: each term kept adds at least 1 %% "
                   "of the total) or the highest n (1: one-phonon only)")
    if compare:
        p.add_argument("--elastic-mev", type=float, metavar="MEV", help="S(Q,E): leave out |E| below this "
                       "(default 1.5 x the resolution FWHM at E = 0, or 3 meV)")
    else:
        p.add_argument("--resolution-mev", type=float, nargs="+", metavar="C",
                       help="neutron: Gaussian FWHM in meV, constant or polynomial coefficients c0 c1 ... of E")


def _add_memory_option(p) -> None:
    p.add_argument("--max-memory", metavar="SIZE", help="refuse, before building its graph, a structure whose "
                   "neighbour graph is estimated to need more memory than SIZE (e.g. 8G, 500M; default: "
                   "3/4 of this machine's memory)")


def _add_device_option(p) -> None:
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where the model and its pretrained featurizer run: auto (default) takes the GPU when "
                   "torch sees one")


def _add_processing_options(p) -> None:
    p.add_argument("--window-ev", type=float, help="XAS: compared window from the onset (eV; default: the whole "
                   "predicted range the measurement covers)")
    p.add_argument("--core-hole-ev", type=float, default=0.0, help="XAS: extra Lorentzian FWHM for the prediction "
                   "(default 0: FEFF spectra include the core hole; -1 for the tabulated core-hole width)")
    p.add_argument("--resolution-ev", type=float, default=0.0, help="XAS: Gaussian experimental resolution FWHM (eV)")
    p.add_argument("--shift-ev", type=float, help="XAS: fixed energy shift (a calibration) instead of a fitted one")
    p.add_argument("--resolution-mev", type=float, nargs="+", metavar="C",
                   help="phonon: instrument FWHM in meV, constant or polynomial coefficients c0 c1 ... of E (meV)")
    p.add_argument("--dos-unit", choices=["meV", "THz", "cm-1"], help="phonon: energy unit of the measured table "
                   "when its header does not say")
    p.add_argument("--no-neutron-weighting", dest="neutron_weighting", action="store_false",
                   help="phonon: compare the plain DOS (not sigma/M weighted)")


def _add_data_parser(sub) -> None:
    """``equispec data phdos|xas``: training data from the Materials Project (needs MP_API_KEY)."""
    d = sub.add_parser("data", help="build training data from the Materials Project (needs MP_API_KEY)")
    kinds = d.add_subparsers(dest="data_kind", required=True)
    ph = kinds.add_parser("phdos", help="DFPT phonon DOS -> CSV in the phonon-DOS data set format")
    source = ph.add_mutually_exclusive_group(required=True)
    source.add_argument("--ids", metavar="IDS.txt", help="Materials Project ids, one per line")
    source.add_argument("--query", action="append", metavar="KEY=VALUE",
                        help="materials with phonons matching chemsys=, formula= or elements= (repeatable)")
    ph.add_argument("-o", "--output", required=True, metavar="OUT.csv")
    xa = kinds.add_parser("xas", help="K-edge XANES -> equispec XAS folder on the OmniXAS 141-point grid")
    xa.add_argument("--element", required=True, help="absorbing element, e.g. Cu")
    xa.add_argument("--edge", default="K", help="absorption edge (default: K)")
    xa.add_argument("--ids", metavar="IDS.txt", help="only these Materials Project ids (default: all)")
    xa.add_argument("--split", default="train", help="split value of every row (default: train)")
    xa.add_argument("-o", "--output", required=True, metavar="OUT_DIR")


def _data(args) -> int:
    from ..errors import InputError
    from ..workflows import build_dataset

    query = None
    if args.data_kind == "phdos" and args.query:
        pairs = [item.split("=", 1) for item in args.query]
        if any(len(p) != 2 or p[0] not in ("chemsys", "formula", "elements") for p in pairs):
            raise InputError("--query", "expected chemsys=..., formula=... or elements=A,B")
        query = dict(pairs)
    if args.data_kind == "phdos":
        report = build_dataset("phdos", args.output, ids=args.ids, query=query)
    else:
        report = build_dataset("xas", args.output, ids=args.ids, element=args.element, edge=args.edge, split=args.split)
    print("\n".join(report.summary_lines()))
    return 0


def _version() -> str:
    from .._version import __version__

    return f"equispec {__version__}"


#: what a folder given to ``predict`` contributes: the structure formats pymatgen reads by extension
STRUCTURE_SUFFIXES = {".cif", ".mcif", ".vasp", ".poscar", ".json", ".xsf", ".cssr", ".res", ".cell"}


def _expand_inputs(files: list[str], files_from: str | None) -> list[str]:
    """Files as given (a named pipe as the list of inputs it carries), folders as their structure files
    (sorted), plus the lines of ``--files-from``."""
    import stat
    from pathlib import Path

    from ..errors import InputError
    from ..io.files import read_text

    def listed(source: str, what: str) -> list[str]:
        lines = read_text(source, what).splitlines()
        return [line.strip() for line in lines if line.strip() and not line.startswith("#")]

    inputs = []
    for item in files:  # a FIFO or bash's <(...) among the inputs is a list of inputs, as --files-from reads it
        try:
            is_pipe = stat.S_ISFIFO(Path(item).stat().st_mode)
        except (OSError, ValueError):
            is_pipe = False
        inputs += listed(item, "a list of inputs (a pipe)") if is_pipe else [item]
    if files_from:
        inputs += listed(files_from, "a list of inputs (--files-from)")
    expanded = []
    for item in inputs:
        if Path(item).is_dir():
            found = sorted(str(p) for p in Path(item).iterdir() if p.is_file() and (
                p.suffix.lower() in STRUCTURE_SUFFIXES or p.name.upper().startswith(("POSCAR", "CONTCAR"))))
            if not found:
                raise InputError(item, f"folder has no structure files ({', '.join(sorted(STRUCTURE_SUFFIXES))}, "
                                       "POSCAR*, CONTCAR*)")
            expanded += found
        else:
            expanded.append(item)
    if not expanded:
        raise InputError("predict", "no input structures (give files, a folder or --files-from)")
    return expanded


def _neutron_resolution(args, ei_from_file: bool = False):
    """The energy resolution the neutron options ask for: a named instrument (callable; with
    ``ei_from_file`` and no ``--ei``, its name, resolved at the measured file's Ei), a constant or
    polynomial FWHM in meV, or None."""
    if getattr(args, "instrument", None):
        from ..workflows.options import energy_resolution

        return energy_resolution(args.instrument, args.ei, source="--instrument", needs="--ei", defer=ei_from_file)
    resolution = getattr(args, "resolution_mev", None)
    if resolution is not None and len(resolution) == 1:
        return resolution[0]
    return resolution


#: optional module -> (what needs it, the extra that installs it)
_EXTRAS = {"phonopy": ("physics and hybrid modes", "physics"), "euphonic": ("neutron spectra from force constants",
                                                                      "neutron"),
           "resins": ("--instrument", "neutron"), "seekpath": ("paths through the Brillouin zone", "physics")}


def _installed(module: str) -> bool:
    if module in sys.modules:
        return sys.modules[module] is not None
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _require_extras(args, sqe_map: bool = False) -> None:
    """Optional dependencies the options need, checked before any input is read or any force computed."""
    from ..errors import InputError

    physics = getattr(args, "mode", None) in ("physics", "hybrid") or sqe_map
    needed = [("phonopy", "--mode")] if physics else []
    if physics and (getattr(args, "ins", False) or sqe_map):
        needed.append(("euphonic", "--ins" if getattr(args, "ins", False) else args.measured))
    if getattr(args, "sqe_path", None):
        needed.append(("euphonic", "--sqe-path"))
    if getattr(args, "dispersion", False) or getattr(args, "sqe_path", None):
        needed.append(("seekpath", "--dispersion" if args.dispersion else "--sqe-path"))
    if getattr(args, "instrument", None):
        needed.append(("resins", "--instrument"))
    for module, source in needed:
        if not _installed(module):
            what, extra = _EXTRAS[module]
            raise InputError(source, f"{what} needs {module}, which is not installed: "
                                     f"pip install 'equispec[{extra}]' (or '.[{extra}]' from the source tree)")


def _check_neutron_args(args) -> None:
    from ..errors import InputError

    if args.ei is not None and not args.ei > 0:
        raise InputError("--ei", f"incident energy must be above 0 meV (got {args.ei:g})")
    if args.temperature is not None and not args.temperature > 0:
        raise InputError("--temperature", f"must be above 0 K (got {args.temperature:g})")
    if args.phonon_order != "auto":  # the default needs no parsing (nor the physics package, which loads pymatgen)
        from ..workflows.options import parse_phonon_order

        args.phonon_order = parse_phonon_order(args.phonon_order)


def _predict(args) -> int:
    """``predict`` while holding ``OUT.lock``, so that two runs writing one output cannot both succeed."""
    from ..io.files import OutputLock

    with OutputLock(args.output) if args.output else contextlib.nullcontext():
        return _predict_locked(args)


def _check_not_inputs(outputs, inputs) -> None:
    """An output that is (resolves to, or is a hard link of) an input is refused before any work."""
    import os
    from pathlib import Path

    from ..errors import InputError
    from ..io.files import check_name_length, display_name

    existing = [item for item in inputs if os.path.exists(item)]
    for output in filter(None, outputs):
        check_name_length(Path(output))  # first: a name over the limit makes every stat() fail
        target = Path(output).resolve()
        for item in existing:
            if Path(item).resolve() == target or (target.exists() and os.path.samefile(item, target)):
                raise InputError(display_name(output), f"is the input {display_name(item)}: writing it would "
                                                       "destroy the input; choose another output name")


def _predict_locked(args) -> int:
    if args.dispersion or args.q_path or args.sqe_path or args.overlay_dispersion:
        return _predict_along_path(args)
    from ..errors import InputError
    from .. import plots
    from ..io import spectra
    from ..io.files import display_name

    files = _expand_inputs(args.files, args.files_from)
    neutron_flags = [flag for flag, value in (("--ei", args.ei), ("--instrument", args.instrument),
                                              ("--resolution-mev", args.resolution_mev),
                                              ("--phonon-order", None if args.phonon_order == "auto" else 1))
                     if value is not None]
    if neutron_flags and not args.ins:
        raise InputError(neutron_flags[0], "is a neutron option: add --ins")
    _check_neutron_args(args)
    _check_not_inputs([args.output, args.plot], files + ([args.files_from] if args.files_from else []))
    _require_extras(args)
    if args.mode == "fast" and (args.cache or args.no_cache):
        raise InputError("--cache" if args.cache else "--no-cache", "is for --mode physics or hybrid")
    _check_engine_args(args)
    stream_to = None
    if args.output:  # a wrong output path fails before any work
        spectra.check_output(args.output, (".json", ".npz") if args.ins else (".csv", ".json", ".jsonl"))
        if args.output.lower().endswith(".jsonl"):
            stream_to = spectra.JsonLinesWriter(args.output, resume=args.resume)
    if args.resume and stream_to is None:
        raise InputError("--resume", "continues a streamed run: it needs -o OUT.jsonl")
    names = _input_names(files)
    if stream_to is not None and stream_to.done:  # what an interrupted run already wrote is not done again
        todo = [k for k, name in enumerate(names) if name not in stream_to.done]
        files, names = [files[k] for k in todo], [names[k] for k in todo]
    if stream_to is not None and stream_to.dropped_half_line:
        print(f"note: {display_name(stream_to.partial)}: dropped a half-written last line", file=sys.stderr)
    inputs = _structures_of_blocks(files, args.block) if args.block else files
    budget = _memory_budget(args.max_memory)
    if args.plot:
        plots.check_figure_path(args.plot)
    resolution = _neutron_resolution(args) if args.ins else None
    from ..workflows import resolve_structures

    inputs, names = resolve_structures(inputs, names)  # before the model loads: no key / no network fails in seconds
    scheduler = _scheduler_address(args)
    from tqdm.auto import tqdm

    from ..workflows import load_model  # torch, pymatgen and the model code: only once the arguments are checked

    predictor = load_model(args.model, mode=args.mode, potential=args.potential, relax=args.relax, device=args.device)
    if budget is not None:
        predictor.max_memory_bytes = budget
    if predictor.task == "phdos":
        predictor.use_physics_cache(_physics_cache_dir(args))
        if args.mode != "fast":
            predictor.use_engine(scheduler=scheduler, workers=args.workers)
    if predictor.task == "xas":
        if args.ins:
            raise InputError("--ins", "neutron spectra are for phonon-DOS models")
        summary, write, plot = spectra.xas_summary_line, spectra.write_xas, plots.plot_xas
    else:
        summary, write, plot = spectra.summary_line, spectra.write_phdos, plots.plot_phdos
    keep = (args.output and stream_to is None) or args.plot
    predictions, neutron = [], []
    with stream_to or contextlib.nullcontext():
        slow = args.mode != "fast"  # seconds per structure: a bar (on a terminal) is worth it from two files on
        for prediction in predictor.predict_stream(inputs, names, batch_size=args.batch_size,
                                                   progress=sys.stderr.isatty() and len(files) > (1 if slow else args.batch_size)):
            tqdm.write(summary(prediction))
            notes = [spectra.truncation_note(prediction), spectra.reliability_flag(prediction)] if predictor.task == "phdos" else []
            for note in filter(None, notes):
                tqdm.write(note, file=sys.stderr)
            if args.ins:
                neutron.append(prediction.ins(args.ei, args.temperature, resolution, phonon_order=args.phonon_order,
                                              progress=sys.stderr.isatty()))
                tqdm.write(neutron[-1].summary_line(), file=sys.stderr)
            if stream_to is not None:
                stream_to.write(prediction)
            if keep:
                predictions.append(prediction)
    if stream_to is not None:
        kept = f", {stream_to.kept} kept from the interrupted run" if args.resume and stream_to.kept else ""
        print(f"wrote {display_name(stream_to.path)} ({stream_to.count + stream_to.kept} records{kept})")
    elif args.output:
        print(f"wrote {spectra.write_ins(predictions, neutron, args.output) if args.ins else write(predictions, args.output)}")
    if args.plot:
        print(f"wrote {plots.plot_ins(predictions, neutron, args.plot) if args.ins else plot(predictions, args.plot)}")
    return 0


def _check_path_options(args) -> str:
    """``--dispersion`` / ``--sqe-path`` and the options that go with them, before any input is read; returns
    the option that was asked for."""
    from ..errors import InputError

    if args.q_path and not args.dispersion:
        raise InputError("--q-path", "is the path of --dispersion: add --dispersion")
    if args.overlay_dispersion and not args.sqe_path:
        raise InputError("--overlay-dispersion", "draws the branches over an --sqe-path map: add --sqe-path")
    if args.dispersion and args.sqe_path:
        raise InputError("--sqe-path", "one output at a time: --dispersion or --sqe-path (--overlay-dispersion "
                                       "draws the branches over the map)")
    option = "--dispersion" if args.dispersion else "--sqe-path"
    for flag, value in (("--scheduler", args.scheduler), ("--workers", args.workers)):
        if value is not None:
            raise InputError(flag, f"{option} takes one structure, computed in this process")
    if args.ins:
        raise InputError("--ins", f"the powder spectra and {option} are separate runs: choose one")
    if args.mode == "fast":
        raise InputError(option, "needs force constants: add --mode physics (or hybrid)")
    if args.phonon_order != "auto":
        raise InputError("--phonon-order", f"is for the powder map of --ins: {option} is one-phonon")
    if args.dispersion:
        given = [flag for flag, value in (("--ei", args.ei), ("--instrument", args.instrument),
                                          ("--resolution-mev", args.resolution_mev)) if value is not None]
        if given or args.temperature != 300.0:
            raise InputError(given[0] if given else "--temperature", "is a neutron option: --dispersion has none")
    if args.resume or (args.output and args.output.lower().endswith(".jsonl")):
        raise InputError("--resume" if args.resume else args.output, f"{option} writes one record, not a stream")
    return option


def _predict_along_path(args) -> int:
    """``predict --dispersion`` (branches along a path) or ``--sqe-path`` (a single-crystal S(Q,E) map) of one
    structure in physics or hybrid mode. Every option, the structure and the path are checked before the
    force constants are computed; outputs are written at the end, each atomically."""
    from .. import plots, workflows
    from ..errors import InputError
    from ..io import spectra
    from ..io.dispersion import write_dispersion
    from ..io.single_crystal import write_single_crystal_map

    option = _check_path_options(args)
    _check_neutron_args(args)
    files = _expand_inputs(args.files, args.files_from)
    if len(files) != 1:
        raise InputError(option, f"takes one structure (got {len(files)})")
    _check_not_inputs([args.output, args.plot], files)
    _require_extras(args)
    if args.output:
        spectra.check_output(args.output, (".csv", ".json") if args.dispersion else (".json", ".npz"))
    if args.plot:
        plots.check_figure_path(args.plot)
    name = _input_names(files)[0]
    structure = workflows.read_structure(files[0], args.block) if args.block else files[0]
    resolution = _neutron_resolution(args) if args.sqe_path else None
    physics = dict(name=name, mode=args.mode, potential=args.potential, relax=args.relax, device=args.device,
                   physics_cache=_physics_cache_dir(args), on_prediction=lambda p: print(spectra.summary_line(p)))
    if args.dispersion:
        prediction, result = workflows.dispersion(structure, args.q_path, args.model, **physics)
        print(result.summary_line(), file=sys.stderr)
        written = [write_dispersion(result, args.output, prediction) if args.output else None,
                   plots.plot_dispersion(result, args.plot, prediction) if args.plot else None]
    else:
        prediction, result = workflows.single_crystal(structure, args.sqe_path, args.model, ei_mev=args.ei,
                                                      temperature_k=args.temperature, resolution=resolution, **physics)
        print(result.summary_line(), file=sys.stderr)
        written = [write_single_crystal_map(result, args.output) if args.output else None,
                   plots.plot_single_crystal_map(result, args.plot, overlay_dispersion=args.overlay_dispersion)
                   if args.plot else None]
    for path_written in filter(None, written):
        print(f"wrote {path_written}")
    return 0


def _input_names(files: list[str]) -> list[str]:
    """The name each input gets in outputs and messages (how ``--resume`` recognises it)."""
    from ..io.files import display_name

    return [display_name(f) for f in files]


def _structures_of_blocks(files: list[str], block: str) -> list:
    """``--block NAME``: CIF inputs read as that block's structure; other inputs as they are."""
    from ..workflows import read_structure

    return [read_structure(f, block=block) if str(f).lower().endswith((".cif", ".mcif")) else f for f in files]


def _memory_budget(max_memory: str | None) -> int | None:
    """``--max-memory SIZE`` in bytes, for the predictor's graph-size check (None: the machine's default)."""
    from ..workflows.options import parse_memory_size

    return parse_memory_size(max_memory) if max_memory else None
def _evaluate(args) -> int:
    from ..errors import InputError
    from ..workflows import evaluate

    if args.mode == "fast" and (args.cache or args.no_cache):
        raise InputError("--cache" if args.cache else "--no-cache", "is for --mode physics or hybrid")
    _check_engine_args(args)
    _require_extras(args)
    metrics = evaluate(args.model, args.data, ids=args.ids, split=args.split, mode=args.mode, potential=args.potential,
                       relax=args.relax, device=args.device, progress=sys.stderr.isatty() and args.mode != "fast",
                       physics_cache=_physics_cache_dir(args), scheduler=_scheduler_address(args),
                       workers=args.workers)
    if args.json:  # strict JSON: an undefined figure (R² of one material) is null, not NaN
        print(json.dumps({k: None if isinstance(v, float) and v != v else v for k, v in metrics.items()}))
    else:
        print("\n".join(f"{key} = {value:.6g}" for key, value in metrics.items()))
    return 0


def _physics_cache_dir(args):
    """``--cache DIR``, the default physics cache, or None (fast mode, ``--no-cache``)."""
    if args.mode == "fast" or args.no_cache:
        return None
    if args.cache:
        return args.cache
    from ..workflows.options import default_physics_cache_dir

    return default_physics_cache_dir()


def _train(args) -> int:
    from ..workflows import load_config, train

    import yaml

    from ..workflows.options import check_config_data

    config = load_config(args.config, args.overrides)
    if args.output_dir:
        config.output_dir = args.output_dir
    if args.check:
        check_config_data(config)
        print(yaml.safe_dump(config.to_dict(), sort_keys=False), end="")
        print(f"{args.config}: config OK", file=sys.stderr)
        return 0
    directory = train(config, resume=args.resume)
    print(f"model written to {directory}")
    return 0


def _ensemble(args) -> int:
    from ..workflows import ensemble

    directory = ensemble(args.members, args.output, args.data, args.ids, args.split)
    print(f"wrote {directory}")
    return 0


def _comparison_options(args, ei_from_file: bool = False) -> dict:
    resolution = _neutron_resolution(args, ei_from_file)
    core_hole = None if args.core_hole_ev is not None and args.core_hole_ev < 0 else args.core_hole_ev
    return {"window_ev": args.window_ev, "core_hole_ev": core_hole, "resolution_ev": args.resolution_ev,
            "shift_ev": args.shift_ev, "resolution_mev": resolution, "neutron_weighting": args.neutron_weighting,
            "dos_unit": args.dos_unit}


def _compare(args) -> int:
    from ..errors import InputError
    from ..plots import check_figure_path, plot_comparison
    from ..workflows import compare
    from ..workflows.options import is_sqe_file

    _check_neutron_args(args)
    _require_extras(args, sqe_map=str(args.measured).lower().endswith(".npz"))
    if args.plot:
        check_figure_path(args.plot)
    is_map = is_sqe_file(args.measured)
    if not is_map:  # refused here, before the model loads; the workflow refuses them too
        map_only = [flag for flag, value in (("--ei", None if args.instrument else args.ei),
                                             ("--temperature", args.temperature), ("--elastic-mev", args.elastic_mev),
                                             ("--phonon-order", None if args.phonon_order == "auto" else 1))
                    if value is not None]  # --ei also sets a named instrument's resolution for a DOS
        if map_only:
            raise InputError(map_only[0], "is for a measured S(Q,E) map (.npz)")
    options = _comparison_options(args, ei_from_file=is_map)
    if is_map:
        options.update(temperature_k=args.temperature, ei_mev=args.ei, elastic_mev=args.elastic_mev,
                       phonon_order=args.phonon_order)
    if args.fit_energy_scale:
        options["fit_energy_scale"] = True
    comparison = compare(args.structure, args.measured, args.model, mode=args.mode, potential=args.potential,
                         relax=args.relax or None, **options)
    for note in comparison.notes():
        print(note, file=sys.stderr)
    print(json.dumps(comparison.to_dict()) if args.json else comparison.summary_line())
    if args.plot:
        path = plot_comparison(comparison, args.plot)
        print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _identify(args) -> int:
    from ..workflows import identify

    ranked = identify(args.measured, args.candidates, args.model, top=args.top, rank_by=args.rank_by,
                      shift_mode=args.shift_mode, calibration=args.calibrate, **_comparison_options(args))
    if args.json:
        print(json.dumps([dict(rank=k + 1, **c.to_dict()) for k, c in enumerate(ranked)]))
    else:
        for k, comparison in enumerate(ranked):
            print(f"{k + 1}. {comparison.summary_line()}")
    return 0


def _inside_import(frame) -> bool:
    """Whether ``frame`` runs under the import machinery (a module being imported, or its lock's callback)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _interrupt(signum, frame):
    """Ctrl-C or a kill: KeyboardInterrupt, so that open outputs close and temporary files go.

    While a module is being imported (the first seconds of a cold start) the exception is not raised: raised
    inside a C++ extension's import (pybind11) it aborts the process, and inside the import lock's callback
    CPython ignores it and the command runs on. Nothing is written during imports, so the process ends at once
    with the one line and status 130."""
    if _inside_import(frame):
        import os

        files = sys.modules.get("equispec.io.files")  # not imported yet: it holds nothing (and no import here)
        if files is not None:
            files.remove_own_temporaries()
        print("equispec: interrupted", file=sys.stderr, flush=True)
        os._exit(130)
    raise KeyboardInterrupt


def _interrupt_on_sigterm():
    """SIGTERM is an interruption (:func:`_interrupt`); returns the handler it replaced (None off the main
    thread)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _interrupt)


def main(argv: list[str] | None = None) -> int:
    """Run one command. Ctrl-C at any moment (start-up imports, parsing, work, the last warnings) ends it
    with one line, ``equispec: interrupted``, and exit status 130."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("equispec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout went away (``| head``): as a pipeline expects, end quietly
        import os

        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to flush into the pipe
        except (OSError, ValueError):
            pass
        return 141


def run() -> None:
    """The ``equispec`` command (console script and ``python -m equispec``): :func:`main`, then exit.

    After an interrupt the process ends with ``os._exit(130)``: when Ctrl-C lands while a C extension runs
    Python code of its own (torch does at import), CPython marks the KeyboardInterrupt as unhandled although
    ``main`` caught it, and a normal exit would then end the process by SIGINT (status -2) instead of 130.

    Any other command but ``train`` ends the same way once its work is done (:func:`_exit_without_teardown`):
    tearing down an interpreter that holds torch, e3nn and torch._dynamo takes ~0.7 s, a fifth of a cold
    ``predict`` (issue 24)."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when the caller ignores Ctrl-C
        signal.signal(signal.SIGINT, _interrupt)
    code = main()
    if code == 130:
        import os

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    if sys.argv[1:2] != ["train"]:  # the command comes first; Lightning's loggers and workers get the normal exit
        _exit_without_teardown(code)
    sys.exit(code)


def _exit_without_teardown(code: int) -> None:
    """End the process with ``code`` after what a normal exit does that matters, without the interpreter's
    teardown (freeing every module and object one by one): the ``atexit`` handlers run (``weakref.finalize``,
    temporary folders, logging), then stdout and stderr are flushed. Returns, for a normal exit, while a
    non-daemon thread is alive or when the flush fails (a closed pipe: the normal exit reports it). Outputs
    need nothing more: they are written, synced and renamed, and their locks closed, before ``main`` returns."""
    import atexit
    import os
    import threading

    if any(t is not threading.main_thread() and t.is_alive() and not t.daemon for t in threading.enumerate()):
        return
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    from ..errors import EquispecError

    warnings.filterwarnings("ignore", module="pymatgen")
    command = {"predict": _predict, "evaluate": _evaluate, "train": _train, "ensemble": _ensemble,
               "compare": _compare, "identify": _identify, "data": _data, "serve": _serve}[args.command]
    # Library warnings are held back until the command succeeds, so that a failure is one line. Training and
    # the server show them as they come: they run for hours.
    long_running = args.command in ("train", "serve")
    held = contextlib.nullcontext([]) if long_running else warnings.catch_warnings(record=True)
    # a kill is an interruption: outputs close as after Ctrl-C (train keeps Lightning's handler, serve uvicorn's)
    previous = _interrupt_on_sigterm() if not long_running else None
    try:
        with held as caught:
            if not long_running:
                warnings.simplefilter("default")
                warnings.filterwarnings("ignore", module="pymatgen")
                warnings.filterwarnings("ignore", category=DeprecationWarning)
            code = command(args)
        for warning in caught:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
        return code
    except EquispecError as exc:
        from ..io.files import display_name

        print("equispec: error: " + display_name(" ".join(str(exc).split())), file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    run()
