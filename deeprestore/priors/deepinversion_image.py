"""DeepInversion's image priors (Yin et al., CVPR 2020, eq. 3 ``R_prior``; the authors' code
``get_image_prior_losses``), measured on the network's normalised input ``(x − m) / s``:

* :class:`NeighbourDifferenceNorm` — ``R_TV``: the ℓ2 norms (not squared) of the differences
  between each pixel and its right, lower, lower-right and upper-right neighbours, summed over the
  four directions; the authors weigh it by ``tv_l2 = 1e-4``;
* :class:`ImageNorm` — ``R_ℓ2``: the ℓ2 norm of the normalised image (``l2 = 1e-5``).

The authors compute both over the whole batch tensor; here each image has its own value (``(N,)``),
so images stay independent problems. At 224² the values are the authors' per-image terms.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from deeprestore.constant_tensors import ConstantTensor
from deeprestore.nets.weights import IMAGENET_MEAN, IMAGENET_STD
from deeprestore.precision import compute_dtype
from deeprestore.priors._checks import check_image_batch
from deeprestore.priors.base import ImagePrior

__all__ = ["ImageNorm", "NeighbourDifferenceNorm", "ValidRange"]


class _NormalisedInput(ImagePrior):
    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD) -> None:
        super().__init__()
        self.mean, self.std = ConstantTensor(mean, (1, -1, 1, 1)), ConstantTensor(std, (1, -1, 1, 1))

    def normalised(self, images: Tensor) -> Tensor:
        x = check_image_batch(images, channels=len(self.mean))
        x = x.to(compute_dtype(x))
        return (x - self.mean.like(x)) / self.std.like(x)


class NeighbourDifferenceNorm(_NormalisedInput):
    """``Σ_d ‖x − shift_d(x)‖₂`` over the four directions ``d`` (right, down, down-right,
    up-right), per image: ``N×3×H×W`` → ``(N,)``.

    Args:
        mean, std: the network's input normalisation.
    """

    def forward(self, images: Tensor) -> Tensor:
        x = self.normalised(images)
        diffs = (
            x[..., :, :-1] - x[..., :, 1:],
            x[..., :-1, :] - x[..., 1:, :],
            x[..., 1:, :-1] - x[..., :-1, 1:],
            x[..., :-1, :-1] - x[..., 1:, 1:],
        )
        return sum(torch.linalg.vector_norm(d.flatten(1), dim=1) for d in diffs)

    @property
    def name(self) -> str:
        return "tv-l2-norm"


class ImageNorm(_NormalisedInput):
    """``‖(x − m)/s‖₂`` per image: ``N×3×H×W`` → ``(N,)``.

    Args:
        mean, std: the network's input normalisation.
    """

    def forward(self, images: Tensor) -> Tensor:
        return torch.linalg.vector_norm(self.normalised(images).flatten(1), dim=1)

    @property
    def name(self) -> str:
        return "l2-norm"


class ValidRange(ImagePrior):
    """No energy; after every step the image is clamped to ``[0, 1]`` (DeepInversion's and Plug-In
    Inversion's ``clip``)."""

    def forward(self, images: Tensor) -> Tensor:
        return images.new_zeros(images.shape[0])

    def project(self, images: Tensor) -> Tensor:
        return images.clamp(0.0, 1.0)

    @property
    def name(self) -> str:
        return "valid-range"
