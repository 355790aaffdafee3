"""``deepinversion`` — Yin et al., "Dreaming to Distill: Data-free Knowledge Transfer via
DeepInversion" (CVPR 2020), with the constants of the authors' code (NVlabs/DeepInversion,
``imagenet_inversion.py`` / ``deepinversion.py``) and of their README's ResNet-50 command:

* variable: the network's normalised input (``input-pixels``), started from ``N(0, 1)`` there;
* objective: the data term (here M&V's normalised feature loss, weighted by C as ``mv2016``: the
  authors' main loss is a class's cross-entropy) + ``R_feature`` (λ = 0.01, the README's
  ``--r_feature``; first BN layer ×10) + ``R_TV`` (ℓ2 norms of neighbour differences, λ = 1e-4) +
  ``R_ℓ2`` (λ = 1e-5), the image clipped to ``[0, 1]`` after every step;
* transforms: a random roll of up to 30 pixels and a horizontal flip with probability ½ (in an
  inversion the roll is held within M&V's jitter and there is no flip, see :mod:`.translations`);
* optimiser: Adam, lr 0.25, β = (0.5, 0.9); a 100-iteration linear warm-up then a cosine decay;
  2,000 iterations at full resolution (their ``setting_id = 1``; ``setting_id = 0`` first runs at
  half resolution, which a feature inversion, whose targets are at full resolution, cannot).
"""

from __future__ import annotations

from deeprestore.inversion.engine import Phase, cosine_schedule
from deeprestore.inversion.presets.mahendran_vedaldi import mv2016_data_weight
from deeprestore.inversion.presets.preset import Preset
from deeprestore.inversion.presets.translations import capped_roll, flips_allowed
from deeprestore.inversion.transforms import RandomTransforms
from deeprestore.nets.feature_network import FeatureNetwork
from deeprestore.priors.base import ImagePrior
from deeprestore.priors.deepinversion_image import ImageNorm, NeighbourDifferenceNorm, ValidRange

__all__ = ["DEEPINVERSION", "DI_BN_WEIGHT", "DI_ITERATIONS", "DI_L2_WEIGHT", "DI_LR", "DI_TV_WEIGHT"]

DI_LR = 0.25
DI_BETAS = (0.5, 0.9)
DI_ITERATIONS = 2000
DI_WARMUP = 100
DI_BN_WEIGHT = 0.01
DI_TV_WEIGHT = 1e-4
DI_L2_WEIGHT = 1e-5
DI_ROLL = 30


def _phases(stride: float | None) -> list[Phase]:
    return [Phase(DI_ITERATIONS, cosine_schedule(DI_LR, DI_ITERATIONS, DI_WARMUP))]


def _priors(stride: float | None, net: FeatureNetwork) -> list[tuple[ImagePrior, float]]:
    mean, std = net.mean.flatten().tolist(), net.std.flatten().tolist()
    return [(NeighbourDifferenceNorm(mean, std), DI_TV_WEIGHT), (ImageNorm(mean, std), DI_L2_WEIGHT), (ValidRange(), 1.0)]


def _transforms(stride: float | None) -> RandomTransforms:
    return RandomTransforms(roll=capped_roll(DI_ROLL, stride), flip=flips_allowed(stride))


DEEPINVERSION = Preset(
    "deepinversion",
    "adam",
    _phases,
    _priors,
    mv2016_data_weight,
    parameterisation="input-pixels",
    start="input-normal",
    transforms=_transforms,
    batchnorm_weight=DI_BN_WEIGHT,
    optimizer_options={"betas": DI_BETAS},
)
