"""The pretrained universal potentials in one place: their table (torch-free), the SevenNet graphs and
blocks, the featurizer that turns structures into per-atom features, the feature cache, the trainable
copies of the last blocks and the force engine that physics mode calls.

The names below are imported on first use (PEP 562), so that the table (read by the CLI's parser) costs no
torch.
"""

from ..._lazy import lazy_attributes

__all__ = ["BlockInputs", "calculator_graph", "check_installed", "check_pretrained_record", "DEFAULT_POTENTIAL",
           "feature_cache_key", "FEATURES", "fine_tuning_fields", "first_trainable_block", "float32_default",
           "get_features", "get_featurizer", "get_potential", "inversion_permutation", "load_sevennet",
           "Potential", "POTENTIAL_NAMES", "POTENTIALS", "pretrained_features", "pretrained_record",
           "PretrainedFeaturizer", "SEVENN_TESTED", "sevennet_calculator", "sevennet_graph", "sevennet_record",
           "SevenNetBlocks", "SevenNetGraph", "supercell_forces", "trainable_block_count",
           "TrainableSevenNetBlocks"]

_FROM = {"BlockInputs": "blocks", "calculator_graph": "graph", "check_installed": "table",
         "check_pretrained_record": "featurizer", "DEFAULT_POTENTIAL": "table",
         "feature_cache_key": "feature_cache", "FEATURES": "table", "fine_tuning_fields": "feature_cache",
         "first_trainable_block": "featurizer", "float32_default": "graph", "get_features": "table",
         "get_featurizer": "featurizer", "get_potential": "table", "inversion_permutation": "graph",
         "load_sevennet": "blocks", "Potential": "table", "POTENTIAL_NAMES": "table", "POTENTIALS": "table",
         "pretrained_features": "feature_cache", "pretrained_record": "featurizer",
         "PretrainedFeaturizer": "featurizer", "SEVENN_TESTED": "blocks", "sevennet_calculator": "forces",
         "sevennet_graph": "graph", "sevennet_record": "blocks", "SevenNetBlocks": "blocks",
         "SevenNetGraph": "graph", "supercell_forces": "forces", "trainable_block_count": "trainable",
         "TrainableSevenNetBlocks": "trainable"}

__getattr__, __dir__ = lazy_attributes(__name__, _FROM, __all__)
