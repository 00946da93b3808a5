"""What one page request does, through :mod:`equispec.workflows` only: predict the uploaded structures, or
compare one with an uploaded measurement, and write the files the command line writes for the same inputs
(``predict -o OUT.csv``, ``-o OUT.json``, ``--plot OUT.png``; ``compare --json``, ``--plot``).

A task is a plain JSON-ready dict (:class:`TaskSpec` builds it) so that it can cross into a worker process
without pickling anything a user sent; :func:`run_task` runs it and returns the record the page draws."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from ..errors import InputError

__all__ = ["TaskSpec", "run_task", "needs_worker"]

#: A progress report: fraction done (0-1) and what is happening.
Report = Callable[[float, str], None]


@dataclass
class TaskSpec:
    """One request from the page.

    Attributes:
        action: ``predict`` or ``compare``.
        structures: ``[{"path": ..., "name": ...}]`` for uploads, ``{"mp_id": ...}`` for Materials Project ids.
        model, mode, potential: as ``--model``, ``--mode``, ``--potential``.
        measured: ``{"path": ..., "name": ...}`` of the uploaded measurement (compare), else None.
        instrument, ei_mev, temperature_k, resolution_mev: neutron settings, as the CLI's options of those names.
        physics_cache: folder of the physics cache (the CLI's default one unless the server says otherwise).
        scheduler, workers: where many-structure physics runs (``--scheduler``, ``--workers``).
    """

    action: str
    structures: list
    model: str = "phdos"
    mode: str = "fast"
    potential: str | None = None
    measured: dict | None = None
    instrument: str | None = None
    ei_mev: float | None = None
    temperature_k: float | None = None
    resolution_mev: float | None = None
    physics_cache: str | None = None
    scheduler: str | None = None
    workers: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def needs_worker(spec: TaskSpec) -> bool:
    """Physics, hybrid and S(Q,E) work takes seconds to minutes: it runs as a job in a worker process."""
    measured = (spec.measured or {}).get("name", "")
    return spec.mode != "fast" or measured.lower().endswith(".npz")


def _inputs(spec: TaskSpec) -> tuple[list, list]:
    inputs = [s["path"] if "path" in s else s["mp_id"] for s in spec.structures]
    names = [s.get("name") or s.get("mp_id") for s in spec.structures]
    return inputs, names


def run_task(spec: TaskSpec, folder: Path, predictor=None, report: Report | None = None, draw: bool = True
             ) -> tuple[dict, dict]:
    """Run ``spec``, writing its downloads into ``folder``; ``predictor`` is a loaded one to reuse (the
    server keeps fast models loaded), else the task loads its own.

    Returns the page's record (``summary`` lines, ``notes``, ``figures`` as plotly records, ``scores`` of a
    comparison, ``downloads``) and the PNG figures still to draw (name -> ``draw(path)``): with ``draw`` they
    are drawn here and that dict is empty; without, the server draws one when it is first downloaded, so that
    a fast answer does not wait on matplotlib."""
    report = report or (lambda fraction, stage: None)
    from .. import workflows

    if predictor is None:
        report(0.02, "loading the model")
        predictor = workflows.load_model(spec.model, mode=spec.mode, potential=spec.potential)
    if getattr(predictor, "task", None) == "phdos" and spec.mode != "fast":
        from ..workflows.options import default_physics_cache_dir

        predictor.use_physics_cache(spec.physics_cache or default_physics_cache_dir())  # the CLI's default
        if hasattr(predictor, "use_engine"):
            predictor.use_engine(scheduler=spec.scheduler, workers=spec.workers)
    task = _compare if spec.action == "compare" else _predict
    record, drawings = task(spec, folder, predictor, report)
    if draw:
        for name, draw_figure in drawings.items():
            draw_figure(folder / name)
        drawings = {}
    return record, drawings


def _predict(spec: TaskSpec, folder: Path, predictor, report: Report) -> dict:
    from .. import plots, workflows
    from ..io import spectra
    from . import figures

    inputs, names = _inputs(spec)
    report(0.05, "reading the structures")
    inputs, names = workflows.resolve_structures(inputs, names)
    xas = predictor.task == "xas"
    summary_of = spectra.xas_summary_line if xas else spectra.summary_line
    predictions, summary, notes = [], [], []
    if spec.mode != "fast":
        report(0.08, "computing force constants (universal potential + phonopy)")
    for k, prediction in enumerate(predictor.predict_stream(inputs, names)):
        predictions.append(prediction)
        summary.append(summary_of(prediction))
        if not xas:
            notes += filter(None, [spectra.truncation_note(prediction), spectra.reliability_flag(prediction)])
        report(0.1 + 0.8 * (k + 1) / len(inputs), f"predicted {k + 1} of {len(inputs)}")
    report(0.92, "writing the files")
    write, plot = (spectra.write_xas, plots.plot_xas) if xas else (spectra.write_phdos, plots.plot_phdos)
    write(predictions, folder / "prediction.csv")
    write(predictions, folder / "prediction.json")
    figure_list = figures.xas_figures(predictions) if xas else figures.phdos_figures(predictions)
    return {"action": "predict", "kind": predictor.task, "mode": spec.mode, "summary": summary, "notes": notes,
            "reliability": [] if xas else [line for line in map(_reliability_line, predictions) if line],
            "figures": figure_list, "scores": None,
            "downloads": ["prediction.csv", "prediction.json", "prediction.png"]}, \
        {"prediction.png": lambda path: plot(predictions, path)}


def _reliability_line(prediction) -> str | None:
    """The calibrated expected error of a fast prediction, for the page's reliability line."""
    r = getattr(prediction, "reliability", None)
    if r is None:
        return None
    return (f"{prediction.name}: expected MSE {r.expected_mse:.3f} (above {r.percentile:.0f}% of the valid "
            f"materials); the band is ±2σ with σ scaled by {r.sigma_scale:.2f}"
            + ("; beyond the valid 90th percentile: try hybrid mode" if r.flagged else ""))


def comparison_options(spec: TaskSpec, is_map: bool) -> dict:
    """The comparison options of the page's neutron fields, built as ``equispec compare`` builds them from
    ``--instrument``/``--ei``/``--resolution-mev``/``--temperature``."""
    options: dict = {}
    if spec.instrument:
        from ..workflows.options import energy_resolution

        options["resolution_mev"] = energy_resolution(spec.instrument, spec.ei_mev, source="instrument",
                                                      needs="Ei", defer=is_map)
    elif spec.resolution_mev is not None:
        options["resolution_mev"] = spec.resolution_mev
    if is_map:
        options.update(temperature_k=spec.temperature_k, ei_mev=spec.ei_mev)
    else:
        for label, value in (("Ei", None if spec.instrument else spec.ei_mev), ("temperature", spec.temperature_k)):
            if value is not None:
                raise InputError(label, "is for a measured S(Q,E) map (.npz)")
    return options


def _compare(spec: TaskSpec, folder: Path, predictor, report: Report) -> dict:
    from .. import workflows
    from ..io.files import atomic_savez, atomic_write
    from ..plots import plot_comparison
    from ..workflows.options import is_sqe_file
    from . import figures

    if spec.measured is None:
        raise InputError("measured", "a comparison needs a measured spectrum")
    if len(spec.structures) != 1:
        raise InputError("structure", f"a comparison takes one structure (got {len(spec.structures)})")
    (structure,), (name,) = _inputs(spec)
    measured = spec.measured["path"]
    options = comparison_options(spec, is_sqe_file(measured))
    report(0.1, "predicting and comparing")
    measured_data = workflows.read_measured(measured, predictor.task)
    measured_data.name = spec.measured["name"]
    comparison = workflows.compare(structure, measured_data, predictor, name=name, **options)
    report(0.9, "writing the files")
    record = comparison.to_dict()
    text = json.dumps(record)
    atomic_write(folder / "comparison.json", lambda tmp: Path(tmp).write_text(text + "\n"))
    atomic_savez(folder / "comparison.npz", comparison.arrays())
    return {"action": "compare", "kind": comparison.kind, "mode": spec.mode, "summary": [comparison.summary_line()],
            "notes": comparison.notes(), "reliability": [], "figures": figures.comparison_figures(comparison),
            "scores": record, "downloads": ["comparison.json", "comparison.png", "comparison.npz"]}, \
        {"comparison.png": lambda path: plot_comparison(comparison, path)}
