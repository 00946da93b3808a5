"""Lightning training driven by a YAML config."""

from .config import TrainConfig, load_config
from .lightning_module import SpectrumTask
from .run import train

__all__ = ["SpectrumTask", "TrainConfig", "load_config", "train"]
