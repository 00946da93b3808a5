"""Small e3nn modules, each stating the irreps it reads and writes, and the pretrained potentials
(:mod:`equispec.nn.pretrained`).

The names below are imported on first use (PEP 562), so that the potentials' table costs no torch; each
module that imports e3nn imports :mod:`._e3nn` first (e3nn without ``torch._dynamo``).
"""

from .._lazy import lazy_attributes

__all__ = ["AtomEmbedding", "AtomwiseReadout", "Convolution", "EdgeSphericalHarmonics", "GatedInteraction",
           "RadialBasis", "RadialSpeciesDistribution"]

_FROM = {"AtomEmbedding": "embedding", "AtomwiseReadout": "readout", "Convolution": "convolution",
         "EdgeSphericalHarmonics": "embedding", "GatedInteraction": "gate_block", "RadialBasis": "embedding",
         "RadialSpeciesDistribution": "environment"}

__getattr__, __dir__ = lazy_attributes(__name__, _FROM, __all__)
