"""Train a model from a config, combine trained members into an ensemble, and build training data from the
Materials Project."""

from __future__ import annotations

import json

from ..training import load_config, train

__all__ = ["build_dataset", "ensemble", "load_config", "train"]


def ensemble(members: list, output, data=None, ids=None, split: str | None = None, report=print):
    """Combine trained model directories ``members`` into one ensemble directory ``output``; with ``data``
    (a phonon-DOS CSV with optional ``ids`` file, or an XAS folder with its ``split``) the ensemble is scored
    there, each metrics dict handed to ``report``, and the scores stored as its valid metrics (what the
    spread calibration and the reliability line read). Returns the directory."""
    from ..inference import predictor_for
    from ..models.serialization import combine_model_dirs

    def score(model, metadata) -> dict:
        predictor = predictor_for(model, metadata, name=str(output))
        if predictor.task == "xas":
            metrics, _, _ = predictor.evaluate(data, split or "val")
            valid_data = {"folder": data, "split": split or "val"}
        else:
            metrics, _, _ = predictor.evaluate(data, ids)
            valid_data = {"csv": data, "ids": ids}
        report(json.dumps(metrics))
        return {"valid_data": valid_data, "valid_metrics": metrics}

    return combine_model_dirs(members, output, score=score if data else None)


def build_dataset(kind: str, output, *, ids=None, query: dict | None = None, element: str | None = None,
                  edge: str | None = None, split: str = "train"):
    """Training data from the Materials Project (needs ``MP_API_KEY``): ``kind="phdos"`` writes a phonon-DOS
    CSV (the materials listed in the file ``ids``, or those a ``query`` of chemsys/formula/elements finds);
    ``kind="xas"`` a data folder of ``element``'s ``edge`` spectra. Returns the build report."""
    from pathlib import Path

    from ..data.datasets import read_ids
    from ..errors import InputError
    from ..io.spectra import check_output
    from .mp_datasets import build_phdos_csv, build_xas_dataset

    if kind == "phdos":  # output paths first: the downloads can take minutes
        check_output(output, (".csv",))
    elif not Path(output).parent.is_dir() or Path(output).is_file():
        raise InputError(str(output), "output must be a new or existing folder in an existing folder")
    material_ids = read_ids(ids) if ids else None
    if kind == "phdos":
        return build_phdos_csv(output, material_ids=material_ids, query=query)
    return build_xas_dataset(output, element, edge, material_ids=material_ids, split=split)
