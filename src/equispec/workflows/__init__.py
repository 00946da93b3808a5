"""The public API: what a user asks equispec to do, from structures and files to results.

predict, evaluate, compare, identify, dispersion, single_crystal, train, ensemble and build_dataset each take
names and paths, resolve Materials Project ids (the only network access below the command line), and call
down the layers: inference (and physics through it) to predict, analysis to score. The command line is a
parser over these.
The names below are imported on first use (PEP 562), so that ``import equispec`` stays free of torch.
"""

from .._lazy import lazy_attributes

__all__ = ["PRETRAINED", "PhysicsDosSettings", "build_dataset", "compare", "dispersion", "ensemble", "evaluate",
           "identify", "load_config", "load_model", "physics_dos", "predict", "read_ids", "read_measured",
           "read_phdos_csv", "read_structure", "resolve_model_dir", "resolve_structures", "single_crystal", "spectrum_metrics", "train"]

_FROM = {"PRETRAINED": "models", "load_model": "models", "resolve_model_dir": "models",
         "predict": "predicting", "evaluate": "predicting", "compare": "comparing", "read_measured": "comparing",
         "identify": "identifying",
         "resolve_structures": "structures", "train": "training", "load_config": "training",
         "ensemble": "training", "build_dataset": "training", "PhysicsDosSettings": "_reexports",
         "physics_dos": "_reexports", "read_ids": "_reexports", "read_phdos_csv": "_reexports",
         "read_structure": "structures", "spectrum_metrics": "_reexports", "dispersion": "paths",
         "single_crystal": "paths"}

__getattr__, __dir__ = lazy_attributes(__name__, _FROM, __all__)
