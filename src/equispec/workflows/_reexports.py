"""Building blocks of the lower layers that scripts and notebooks use beside the workflows: data-set readers,
the physics DOS of one structure, and the spectrum metrics."""

from ..data.datasets import read_ids, read_phdos_csv
from ..metrics import spectrum_metrics
from ..physics import PhysicsDosSettings, physics_dos

__all__ = ["PhysicsDosSettings", "physics_dos", "read_ids", "read_phdos_csv", "spectrum_metrics"]
