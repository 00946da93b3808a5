"""Small e3nn modules; each states the irreps it reads and writes."""

from . import _e3nn  # noqa: F401  (first: e3nn without torch._dynamo)
from .convolution import Convolution
from .environment import RadialSpeciesDistribution
from .embedding import AtomEmbedding, EdgeSphericalHarmonics, RadialBasis
from .gate_block import GatedInteraction
from .readout import AtomwiseReadout

__all__ = ["AtomEmbedding", "AtomwiseReadout", "Convolution", "EdgeSphericalHarmonics", "GatedInteraction",
           "RadialBasis", "RadialSpeciesDistribution"]
