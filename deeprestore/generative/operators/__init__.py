"""Forward operators ``y = A x + σ ε`` for inverse problems with generative models.

Linear operators with exact adjoints sharing :class:`ForwardOperator` (after deepinv's
``LinearPhysics``), for CSGM (Bora et al. 2017) and ILO (Daras et al. 2021): inpainting (random
pixels, a box), denoising, super-resolution (area, antialiased bicubic) and compressed sensing
(dense Gaussian, partial random circulant). :func:`make_operator` builds them by name.
"""

from deeprestore.generative.operators.base import ForwardOperator
from deeprestore.generative.operators.compressed_sensing import GaussianCompressedSensing, PartialCirculantCompressedSensing
from deeprestore.generative.operators.denoising import GaussianDenoising
from deeprestore.generative.operators.factory import OPERATOR_NAMES, make_operator
from deeprestore.generative.operators.inpainting import BoxInpainting, MaskInpainting, RandomPixelInpainting
from deeprestore.generative.operators.super_resolution import SR_MODES, SuperResolution

__all__ = [
    "OPERATOR_NAMES",
    "SR_MODES",
    "BoxInpainting",
    "ForwardOperator",
    "GaussianCompressedSensing",
    "GaussianDenoising",
    "MaskInpainting",
    "PartialCirculantCompressedSensing",
    "RandomPixelInpainting",
    "SuperResolution",
    "make_operator",
]
