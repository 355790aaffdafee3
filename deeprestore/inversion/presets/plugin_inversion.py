"""``plugin`` — Ghiasi, Kazemi, Reich, Borgnia, Goldblum & Goldstein, "Plug-In Inversion:
Model-Agnostic Inversion for Vision Transformers and CNNs" (2022), with the constants of the
authors' code (``experiment/iteration20/pii.py``, ``augmentation/pre.py``):

* variable: ``[0, 1]`` pixels (``unit-pixels``), started from ``U[0, 1]``, clipped after every step;
  no prior at all;
* progressive resolution: 7 stages of 400 iterations at ``k/8`` of the image side, ``k = 2 … 8``,
  each up-sampled (bilinear) to the full size the network sees, each starting from the previous
  stage's image (the authors also paste it inside a fresh noise border, "centering"; not done here);
* augmentation ensemble: the data term is the mean over 4 copies of the view, each with its own
  colour shift ``σx + μ`` (α = β = 1) after a shared roll of up to 32 pixels (held within M&V's
  jitter in an inversion, see :mod:`.translations`; here each copy draws its own roll). The
  authors size the ensemble by GPU memory (6 for ViT-B/16 to 72 for ResNet-18); 4 keeps a CPU run
  at 4× the cost of one view;
* optimiser: Adam, lr 0.01, β = (0.5, 0.99), a cosine decay to 0 within each stage.
"""

from __future__ import annotations

from deeprestore.inversion.engine import Phase, cosine_schedule
from deeprestore.inversion.presets.mahendran_vedaldi import mv2016_data_weight
from deeprestore.inversion.presets.preset import Preset
from deeprestore.inversion.presets.translations import capped_roll
from deeprestore.inversion.transforms import RandomTransforms
from deeprestore.nets.feature_network import FeatureNetwork
from deeprestore.priors.base import ImagePrior
from deeprestore.priors.deepinversion_image import ValidRange

__all__ = ["PII_ENSEMBLE", "PII_LR", "PII_STAGE_ITERATIONS", "PLUGIN"]

PII_LR = 0.01
PII_BETAS = (0.5, 0.99)
PII_STAGE_ITERATIONS = 400
PII_STAGES = tuple(k / 8 for k in range(2, 9))
PII_ENSEMBLE = 4
PII_COLOUR_SHIFT = (1.0, 1.0)
PII_ROLL = 32


def _phases(stride: float | None) -> list[Phase]:
    return [Phase(PII_STAGE_ITERATIONS, cosine_schedule(PII_LR, PII_STAGE_ITERATIONS), resolution=r) for r in PII_STAGES]


def _priors(stride: float | None, net: FeatureNetwork) -> list[tuple[ImagePrior, float]]:
    return [(ValidRange(), 1.0)]


def _transforms(stride: float | None) -> RandomTransforms:
    return RandomTransforms(roll=capped_roll(PII_ROLL, stride), colour_shift=PII_COLOUR_SHIFT)


PLUGIN = Preset(
    "plugin",
    "adam",
    _phases,
    _priors,
    mv2016_data_weight,
    parameterisation="unit-pixels",
    start="uniform",
    transforms=_transforms,
    ensemble=PII_ENSEMBLE,
    optimizer_options={"betas": PII_BETAS},
)
