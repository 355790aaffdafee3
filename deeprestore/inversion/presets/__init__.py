"""Presets of the optimisation engine, by name.

* Mahendran & Vedaldi's (:mod:`.mahendran_vedaldi`): ``mv2016``, ``mv2016-calibrated``, ``mv2015``,
  and ``gd-plain`` (plain gradient descent with an adaptive step);
* the newer literature: ``deepinversion`` (:mod:`.deepinversion`), ``lucent`` (:mod:`.lucent`),
  ``plugin`` (:mod:`.plugin_inversion`), ``maco`` (:mod:`.maco`) and ``accentuation``
  (:mod:`.accentuation`, the preset of :func:`~deeprestore.inversion.accentuation.accentuate`);
* combinations: ``mv2016+bn`` (M&V 2016 with DeepInversion's batch-norm statistics prior) and
  ``mv2016-fourier`` (M&V 2016's objective in Lucent's Fourier + decorrelated-colour variable,
  :mod:`.mv2016_fourier`);
* the MSc thesis's own §4.3 optimisation: ``thesis-adam`` (:mod:`.thesis_adam`).

Each module's docstring cites its source and lists its constants.
"""

from __future__ import annotations

from dataclasses import replace

from deeprestore.inversion.presets.accentuation import ACCENTUATION
from deeprestore.inversion.presets.deepinversion import DEEPINVERSION
from deeprestore.inversion.presets.lucent import LUCENT
from deeprestore.inversion.presets.maco import MACO
from deeprestore.inversion.presets.mahendran_vedaldi import (
    MV2016_DATA_WEIGHTS_BY_NET,
    MV2016_LR,
    MV_PRESETS,
    describe_data_weight,
    mv2015_tv_weight,
    mv2016_data_weight,
)
from deeprestore.inversion.presets.mv2016_fourier import MV2016_FOURIER
from deeprestore.inversion.presets.plugin_inversion import PLUGIN
from deeprestore.inversion.presets.preset import Preset, with_fading_priors
from deeprestore.inversion.presets.thesis_adam import THESIS_ADAM

__all__ = [
    "MV2016_BN_WEIGHT",
    "MV2016_DATA_WEIGHTS_BY_NET",
    "MV2016_LR",
    "PRESETS",
    "Preset",
    "describe_data_weight",
    "get_preset",
    "mv2015_tv_weight",
    "mv2016_data_weight",
    "with_fading_priors",
]

#: λ of the BN statistics prior in ``mv2016+bn`` (against M&V's normalised objective). On the
#: tuning split (4 photos, block4, 350 iterations) per-image statistics at λ = 0.01 / 0.1 / 1 gave
#: SSIM 0.401 / 0.328 / 0.114 and feature error 0.187 / 0.333 / 0.744 (``mv2016``: 0.408, 0.183).
MV2016_BN_WEIGHT = 0.01

PRESETS: dict[str, Preset] = {
    **MV_PRESETS,
    "deepinversion": DEEPINVERSION,
    "lucent": LUCENT,
    "plugin": PLUGIN,
    "maco": MACO,
    "accentuation": ACCENTUATION,
    "mv2016+bn": replace(MV_PRESETS["mv2016"], name="mv2016+bn", batchnorm_weight=MV2016_BN_WEIGHT),
    "mv2016-fourier": MV2016_FOURIER,
    "thesis-adam": THESIS_ADAM,
}


def get_preset(name: str) -> Preset:
    """A preset by name (see :data:`PRESETS`)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return PRESETS[name]
