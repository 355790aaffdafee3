"""``lucent`` — Olah, Mordvintsev & Schubert, "Feature Visualization" (Distill 2017), as the Lucent
library runs it (``render_vis`` with ``param.image(…)`` and ``transform.standard_transforms``):

* variable: the 1/f-scaled Fourier spectrum, decorrelated colour (ImageNet's basis), through a
  sigmoid (``fourier+colour``), started at ``0.01·N(0, 1)`` (a near-grey image);
* objective: the data term (M&V's normalised feature loss, C as ``mv2016``) and no prior;
* transforms: pad 12 (grey), jitter 8, scale 0.90–1.10, rotation −10…10°, jitter 4 (translations
  held within M&V's jitter in an inversion, see :mod:`.translations`), then the centre crop;
* optimiser: Adam, lr 0.05, 512 iterations.
"""

from __future__ import annotations

from deeprestore.inversion.engine import Phase
from deeprestore.inversion.presets.mahendran_vedaldi import mv2016_data_weight
from deeprestore.inversion.presets.preset import Preset
from deeprestore.inversion.presets.translations import capped_shift
from deeprestore.inversion.transforms import LUCENT_ANGLES, LUCENT_SCALES, RandomTransforms
from deeprestore.nets.feature_network import FeatureNetwork
from deeprestore.priors.base import ImagePrior

__all__ = ["LUCENT", "LUCENT_ITERATIONS", "LUCENT_LR", "lucent_transforms"]

LUCENT_LR = 0.05
LUCENT_ITERATIONS = 512


def lucent_transforms(stride: float | None) -> RandomTransforms:
    """Lucent's ``standard_transforms`` (translations capped in an inversion)."""
    return RandomTransforms(
        pad=12,
        pad_value=0.5,
        jitter=capped_shift(8, stride),
        scales=LUCENT_SCALES,
        angles=LUCENT_ANGLES,
        jitter_after=capped_shift(4, stride),
    )


def _phases(stride: float | None) -> list[Phase]:
    return [Phase(LUCENT_ITERATIONS, LUCENT_LR)]


def _priors(stride: float | None, net: FeatureNetwork) -> list[tuple[ImagePrior, float]]:
    return []


LUCENT = Preset(
    "lucent",
    "adam",
    _phases,
    _priors,
    mv2016_data_weight,
    parameterisation="fourier+colour",
    start="variable-normal",
    transforms=lucent_transforms,
)
