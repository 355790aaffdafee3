"""``accentuation`` — the optimisation of feature accentuation (Hamblin, Fel, Saha, Konkle & Alvarez,
"Feature Accentuation: Revealing 'What' Features Respond to in Natural Images", 2024), with the
defaults of the Horama library's ``feature_accentuation.accentuation``:

* variable: the image's Fourier spectrum in decorrelated colour through a sigmoid
  (``fourier+colour``, Lucent's basis), so the optimisation can start exactly at the seed photo
  (:func:`~deeprestore.inversion.accentuation.accentuate` passes it; the preset's own ``start``,
  Lucent's near-grey image, is used only when the preset runs without a photo);
* objective: the data term; the pull towards the photo is added by
  :func:`~deeprestore.inversion.accentuation.accentuate` (a :class:`~deeprestore.inversion.accentuation.SeedDistance`
  prior, weight :data:`ACCENTUATION_PENALTY`);
* transforms: MACO's (:func:`~.maco.maco_transforms`: 6 random boxes of 0.20–0.25 of the side,
  noise), as Horama's accentuation uses the same step;
* optimiser: NAdam, :data:`ACCENTUATION_ITERATIONS` iterations at :data:`ACCENTUATION_LR`.

What differs: Horama's variable is the raw spectrum with its gradient (not its value) scaled by
``1/f^1.5``, at NAdam's rate 1.0; here the Lucent 1/f basis of :mod:`~deeprestore.inversion.parameterisations.fourier`
(value scaled), whose units make another rate right: :data:`ACCENTUATION_LR` and the penalty were
chosen on EfficientNet-Lite0 (docs/maco_accentuation.md), not taken from the paper.
"""

from __future__ import annotations

from deeprestore.inversion.engine import Phase
from deeprestore.inversion.presets.maco import MACO_CROPS, maco_transforms
from deeprestore.inversion.presets.mahendran_vedaldi import mv2016_data_weight
from deeprestore.inversion.presets.preset import Preset
from deeprestore.nets.feature_network import FeatureNetwork
from deeprestore.priors.base import ImagePrior

__all__ = ["ACCENTUATION", "ACCENTUATION_ITERATIONS", "ACCENTUATION_LR", "ACCENTUATION_PENALTY"]

ACCENTUATION_LR = 0.05
ACCENTUATION_ITERATIONS = 1000
#: λ of the relative squared distance to the photo (see :class:`~deeprestore.inversion.accentuation.SeedDistance`)
ACCENTUATION_PENALTY = 10.0


def _phases(stride: float | None) -> list[Phase]:
    return [Phase(ACCENTUATION_ITERATIONS, ACCENTUATION_LR)]


def _priors(stride: float | None, net: FeatureNetwork) -> list[tuple[ImagePrior, float]]:
    return []


ACCENTUATION = Preset(
    "accentuation",
    "nadam",
    _phases,
    _priors,
    mv2016_data_weight,
    parameterisation="fourier+colour",
    start="variable-normal",
    transforms=maco_transforms,
    ensemble=MACO_CROPS,
)
