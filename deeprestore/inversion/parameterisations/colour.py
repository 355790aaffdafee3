"""Decorrelated colour (Olah et al., Distill 2017; Lucid/Lucent ``param/color.py``).

Natural images' red, green and blue are strongly correlated. Optimising in a basis where they are
not — ``rgb = M v`` per pixel, ``M`` the square root of the colour covariance (``U √S`` of its SVD),
divided by its largest column norm — lets each step move luminance and the two colour-opponent
directions independently.

:data:`IMAGENET_COLOUR_SQRT` is Lucid's matrix, measured on ImageNet;
:func:`colour_basis_from_images` measures one on any photos (e.g. the training photos).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["IMAGENET_COLOUR_SQRT", "colour_basis_from_images", "normalised_basis"]

#: the square root of ImageNet's RGB covariance, Lucid's ``color_correlation_svd_sqrt``
IMAGENET_COLOUR_SQRT = ((0.26, 0.09, 0.02), (0.27, 0.00, -0.05), (0.27, -0.09, 0.03))


def normalised_basis(matrix: Tensor) -> Tensor:
    """``matrix`` divided by its largest column norm (Lucid's normalisation)."""
    return matrix / torch.linalg.vector_norm(matrix, dim=0).max()


def colour_basis_from_images(images: Tensor) -> Tensor:
    """``U √S`` of the RGB covariance of all pixels of ``images`` (``N×3×H×W`` in ``[0, 1]``),
    normalised as :func:`normalised_basis`: a ``3×3`` basis for :class:`~.decorrelated.DecorrelatedImage`."""
    pixels = images.detach().double().permute(1, 0, 2, 3).reshape(3, -1)
    covariance = torch.cov(pixels)
    u, s, _ = torch.linalg.svd(covariance)
    return normalised_basis((u * s.sqrt()).float())
