"""Reading and writing: model directories, spectra tables, units."""

from .checkpoint import FORMAT_VERSION, load_model_dir, save_model_dir

__all__ = ["FORMAT_VERSION", "load_model_dir", "save_model_dir"]
