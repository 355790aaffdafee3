"""Image units of Mahendran & Vedaldi (M&V) and the constants of their priors.

The library's images are float ``N×3×H×W`` tensors in ``[0, 1]``. M&V (CVPR 2015; IJCV 2016)
work on the network input of MatConvNet's ImageNet models: RGB on the **0–255 scale with the
dataset mean subtracted** ("null mean", IJCV 2016 footnote 2). Every constant below is in those
units, so the priors convert explicitly::

    x_mv = 255 · x − m          x = (x_mv + m) / 255

with ``m`` a mean colour in 0–255 units, broadcast over the pixels.

Default mean colour: ``IMAGENET_MEAN_255 = (123.68, 116.78, 103.94)`` — the RGB ImageNet mean
used by the VGG / MatConvNet models (and ``255 × (0.485, 0.456, 0.406)`` of torchvision to within
0.2 levels). M&V's 2016 code (``nnpreimage/experiments/exp_inversion.m``) reduces the model's
average image to its mean colour in the same way; their AlexNet/CaffeNet models' mean colour
(≈ (122.7, 116.7, 104.0)) differs by about one level, which does not matter for a prior whose
constants are B = 80 and B₊ = 160. Pass ``mean=`` to use another colour.

Constants (IJCV 2016, 'balancing the different terms'; defaults of ``nnpreimage/core/get_defaults.m``):

* ``B = 80``: typical pixel norm of a mean-subtracted natural image (``x0_sigma``); normalises
  the bounded-range / α-norm term as ``1/(H W B^α)``;
* ``B_PLUS = 2 B = 160``: hard bound on each pixel's colour-vector norm (``x0_max``);
* ``V = B / 6.5``: typical size of a finite difference; normalises TV as ``1/(H W V^β)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from deeprestore.constant_tensors import ConstantTensor
from deeprestore.priors._checks import as_mean_colour, check_image_batch

__all__ = ["IMAGENET_MEAN_255", "B", "B_PLUS", "V", "MV_SCALE", "MeanColour", "mean_colour", "mean_tensor", "to_mv_units", "from_mv_units"]

#: RGB ImageNet mean colour in 0–255 units (VGG / MatConvNet), the default ``m``.
IMAGENET_MEAN_255: tuple[float, float, float] = (123.68, 116.78, 103.94)

#: Scale factor from the library's [0, 1] images to M&V's 0–255 scale.
MV_SCALE: float = 255.0

#: M&V 2016 ``B``: typical pixel colour-vector norm (0–255, mean-subtracted units).
B: float = 80.0

#: M&V 2016 ``B₊ = 2B``: bound on each pixel's colour-vector norm.
B_PLUS: float = 2.0 * B

#: M&V 2016 ``V = B / 6.5``: typical finite-difference magnitude.
V: float = B / 6.5


#: A mean colour as given (one value, or one per channel), or already a :class:`ConstantTensor`.
MeanColour = float | Sequence[float] | ConstantTensor


def mean_colour(mean: MeanColour) -> ConstantTensor:
    """``mean`` as a ``1×C×1×1`` :class:`~deeprestore.constant_tensors.ConstantTensor` (checked
    finite): what a prior or parameterisation keeps, so its steps copy no Python values to the device."""
    return mean if isinstance(mean, ConstantTensor) else ConstantTensor(as_mean_colour(mean), (1, -1, 1, 1))


def mean_tensor(mean: MeanColour, like: Tensor) -> Tensor:
    """The mean colour as a ``1×C×1×1`` tensor on ``like``'s device and dtype.

    Args:
        mean: one value, or one value per channel of ``like`` (or a :func:`mean_colour`).
        like: an ``N×C×H×W`` tensor.
    """
    colour = mean_colour(mean)
    channels = like.shape[1]
    if len(colour) not in (1, channels):
        raise ValueError(f"mean colour has {len(colour)} value(s) but the images have {channels} channel(s)")
    return colour.like(like)


def to_mv_units(images: Tensor, mean: MeanColour = IMAGENET_MEAN_255) -> Tensor:
    """Library images → M&V units: ``255 · images − mean``.

    Args:
        images: ``N×C×H×W`` floating-point tensor, nominally in ``[0, 1]``.
        mean: mean colour in 0–255 units (one value, or one per channel; a :func:`mean_colour`
            in a loop).

    Returns:
        ``N×C×H×W`` tensor, same device and dtype, on the 0–255 scale with the mean subtracted.
    """
    check_image_batch(images)
    return images * MV_SCALE - mean_tensor(mean, images)


def from_mv_units(x: Tensor, mean: MeanColour = IMAGENET_MEAN_255) -> Tensor:
    """M&V units → library images: ``(x + mean) / 255`` (inverse of :func:`to_mv_units`).

    Args:
        x: ``N×C×H×W`` floating-point tensor in M&V units.
        mean: the mean colour that was subtracted.

    Returns:
        ``N×C×H×W`` tensor in the library's [0, 1]-based units (not clamped).
    """
    check_image_batch(x, "x")
    return (x + mean_tensor(mean, x)) / MV_SCALE
