"""``thesis-adam`` — the optimisation of the MSc thesis's §4.3 experiment (Harder 2017): reconstructions
from AlexNet's conv1 and conv4 with a 512-filter ICA image prior, "trained using the Adam optimizer":

* conv1 (here: a target layer of stride ≤ 4): "a stable learning rate of 0.004 over 5000 iterations";
* conv4 (deeper): "a decreasing learning rate over 10000 iterations (0.01 at the beginning, 4e-3 at
  iteration 1000, 1e-3 at 1200, 4e-4 at 3000, 1e-4 at 6000 and 4e-5 at 9000)";
* the data term is M&V's normalised MSE (C = 1), and "relative to it, the ICA prior is weighted at
  1e-4 in the first layer and at 1e-3 in the fourth": the preset has no prior of its own and its
  phase multiplies a learned prior's λ by 1 at stride ≤ 4 and by 10 deeper, so
  ``--learned_prior_weights 1e-4`` gives both.

The thesis does not state the variable's units, start or jitter. Here: the image in ``[0, 1]``
(``unit-pixels``), started from M&V's noise, no jitter.
"""

from __future__ import annotations

from deeprestore.inversion.engine import Phase
from deeprestore.inversion.presets.preset import Preset
from deeprestore.nets.feature_network import FeatureNetwork
from deeprestore.priors.base import ImagePrior

__all__ = ["THESIS_ADAM", "THESIS_STEPS", "thesis_lr"]

#: (first iteration, learning rate) of the conv4 schedule.
THESIS_STEPS = ((0, 0.01), (1000, 4e-3), (1200, 1e-3), (3000, 4e-4), (6000, 1e-4), (9000, 4e-5))
SHALLOW_STRIDE = 4


def thesis_lr(iteration: int) -> float:
    """The conv4 schedule's learning rate at ``iteration``."""
    return next(lr for start, lr in reversed(THESIS_STEPS) if iteration >= start)


def _phases(stride: float | None) -> list[Phase]:
    if stride is not None and stride <= SHALLOW_STRIDE:
        return [Phase(5000, 0.004)]
    return [Phase(10000, thesis_lr, prior_weight=10.0)]


def _priors(stride: float | None, net: FeatureNetwork) -> list[tuple[ImagePrior, float]]:
    return []


THESIS_ADAM = Preset("thesis-adam", "adam", _phases, _priors, lambda stride, net: 1.0, parameterisation="unit-pixels")
