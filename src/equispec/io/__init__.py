"""Reading and writing files: atomic writes, spectra tables and plots, units. (Model directories are
serialised next to their builders, in ``equispec.models.serialization``.)"""
