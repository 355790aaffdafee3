"""``maco`` — Fel, Boissin, Boutin et al., "Unlocking Feature Visualization for Deeper Networks with
MAgnitude Constrained Optimization" (NeurIPS 2023), with the defaults of the authors' Horama
library (``maco_fv.maco``, ``common.optimization_step``):

* variable: the Fourier phase, the magnitude fixed at the training photos' mean magnitude
  spectrum, decorrelated colour, MACO's standardise–recorrelate–sigmoid value mapping (``phase``:
  :mod:`deeprestore.inversion.parameterisations.phase`), started at a random phase
  (``random-phase``: uniform in ``[−π, π)``; Horama draws ``N(0, 1)`` radians);
* objective: the data term alone, no prior (a projecting prior cannot go with the phase variable);
* transforms: each step the data term is the mean over :data:`MACO_CROPS` = 6 views (the engine's
  ensemble), each a random box of side ``U(0.20, 0.25)`` of the image's, centred at
  ``½ + 0.15·N(0, 1)`` of each side, resized to the image's size, plus MACO's Gaussian and uniform
  noise (:class:`~deeprestore.inversion.transforms.RandomTransforms` ``box``, ``noise``);
* optimiser: NAdam (:class:`~deeprestore.inversion.steppers.NAdamStepper`, ``torch.optim.NAdam``'s
  arithmetic, default betas), 1000 iterations, learning rate :data:`MACO_LR` = 0.1 (Horama: 1.0,
  see below).

What differs, and why:

* Horama renders a 1280×1280 image (1000 in its README) and resizes each box to the network's
  224 input; here the boxes are resized to the image's own size (the engine keeps the view's
  shape), so the canvas plays the part of Horama's image: a canvas of 4–5× the network's input side
  sees what Horama's does; the study's 128-pixel canvas shows the network 26–32-pixel boxes.
* Horama's code draws the box side from ``U(0.20, 0.25) + 0.05`` (it adds the upper bound to the
  spread), i.e. ``[0.25, 0.30]``; the stated ``box_size=(0.20, 0.25)`` is used here.
* Horama's noise, 0.05 (0.1 in its README) in the network's normalised units, is given as the same
  fraction of the value range: its images span ``[−2.5, 2.5]``, these ``[0, 1]``, so 0.01.
* Horama standardises the phase itself before every use (zero mean, unit variance over the
  tensor), so its rate 1.0 acts on a phase whose growing spread is divided out. The phase here is
  used as it is (its standardisation would make encoding an image's phase and decoding it again
  not return the image's phase), and a step of 1 rad per frequency scrambles the image: on
  EfficientNet-Lite0 (espresso, 128 px, 100 iterations) the energy reached −3.9 at rate 1.0, −22.7
  at 0.3, −25.4 at 0.1 and −14.5 at 0.03 (docs/maco_accentuation.md), hence 0.1.
* Boxes outside the image are filled with grey 0.5 (Horama's ``roi_align`` fills with 0 of the
  normalised units, the ImageNet mean colour).
* In an inversion of a feature map (``stride`` given) the boxes are off, since a zoomed view cannot
  be compared position by position with the target's features; the six noisy views remain.
"""

from __future__ import annotations

from deeprestore.inversion.engine import Phase
from deeprestore.inversion.presets.mahendran_vedaldi import mv2016_data_weight
from deeprestore.inversion.presets.preset import Preset
from deeprestore.inversion.transforms import RandomTransforms
from deeprestore.nets.feature_network import FeatureNetwork
from deeprestore.priors.base import ImagePrior

__all__ = ["MACO", "MACO_BOX", "MACO_BOX_CENTRE_SD", "MACO_CROPS", "MACO_ITERATIONS", "MACO_LR", "MACO_NOISE", "maco_transforms"]

MACO_LR = 0.1
MACO_ITERATIONS = 1000
MACO_CROPS = 6
MACO_BOX = (0.20, 0.25)
MACO_BOX_CENTRE_SD = 0.15
#: Horama's 0.05 of a 5-wide value range, on the library's 1-wide one
MACO_NOISE = 0.05 / 5


def maco_transforms(stride: float | None) -> RandomTransforms:
    """MACO's random boxes and noise (the boxes only where no feature map is compared: ``stride = None``)."""
    box = MACO_BOX if stride is None else None
    return RandomTransforms(box=box, box_centre_sd=MACO_BOX_CENTRE_SD if box else 0.0, noise=MACO_NOISE)


def _phases(stride: float | None) -> list[Phase]:
    return [Phase(MACO_ITERATIONS, MACO_LR)]


def _priors(stride: float | None, net: FeatureNetwork) -> list[tuple[ImagePrior, float]]:
    return []


MACO = Preset(
    "maco",
    "nadam",
    _phases,
    _priors,
    mv2016_data_weight,
    parameterisation="phase",
    start="random-phase",
    transforms=maco_transforms,
    ensemble=MACO_CROPS,
)
