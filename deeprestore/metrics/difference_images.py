"""Error visualisations: signed colour difference and absolute difference images.

The two difference images of Harder (2017), MSc thesis "Deep Restoration"
(figures 6 and 7), shown next to the original and the reconstruction:

* :func:`signed_difference_image` — the colour-accurate difference
  ``d = reconstruction - original`` mapped to ``[0, 1]`` so that zero error is
  mid grey (0.5): a pixel that is too red in the reconstruction looks red, one
  that lacks red looks cyan, and so on;
* :func:`absolute_difference_image` — ``|d|`` rescaled to ``[0, 1]`` so that
  black means no error and white the largest error of the image.

Both are normalised **per image** (one scale over all channels and pixels of a
sample), so colours stay comparable between channels but not between images.

Note on the original code: the thesis code (``visualize`` in
``layer_inversion.py`` of github.com/frhrdr/deep_restoration) min-max rescaled
``original - reconstruction``, which puts zero error at grey only when the error
is symmetric. Here zero error is pinned to exactly 0.5 by scaling with the
largest absolute error (``0.5 + d / (2 max|d|)``) and the sign follows
``reconstruction - original`` ("too high" is brighter). Like the thesis code,
both images are clamped to ``[0, 1]`` first, so the difference is the one
between the images as displayed.
"""

from __future__ import annotations

import torch
from torch import Tensor

from deeprestore.metrics._checks import check_image_pair
from deeprestore.precision import compute_dtype

__all__ = ["signed_difference_image", "absolute_difference_image"]


def _difference(original: Tensor, reconstruction: Tensor) -> Tensor:
    check_image_pair(reconstruction, original, names=("reconstruction", "original"))
    dtype = compute_dtype(original)
    return reconstruction.detach().to(dtype).clamp(0.0, 1.0) - original.detach().to(dtype).clamp(0.0, 1.0)


def _per_image_max_abs(d: Tensor) -> Tensor:
    """``max |d|`` over C, H, W of each sample, shaped N×1×1×1 for broadcasting."""
    if d.shape[0] == 0:
        return d.new_ones(0, 1, 1, 1)
    return d.abs().flatten(1).amax(dim=1).view(-1, 1, 1, 1)


def signed_difference_image(original: Tensor, reconstruction: Tensor) -> Tensor:
    """Colour-accurate difference image with zero error at mid grey.

    ``out = 0.5 + d / (2 max|d|)`` with ``d = clamp(reconstruction) -
    clamp(original)`` and the maximum taken over all channels and pixels of each
    image. Hence ``out`` is in ``[0, 1]``, exactly 0.5 where the images agree, and
    the pixel(s) with the largest error reach 0 or 1 in the offending channel.
    An image without any error is uniform grey (0.5), not NaN.

    Args:
        original: N×C×H×W floating point in ``[0, 1]`` (clamped).
        reconstruction: N×C×H×W floating point in ``[0, 1]`` (clamped).

    Returns:
        N×C×H×W tensor in ``[0, 1]``, float32 (float64 for float64 inputs),
        detached, on the input device.

    Raises:
        ValueError: shapes differ, not 4-D, different devices or non-finite input.
    """
    d = _difference(original, reconstruction)
    scale = _per_image_max_abs(d)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # zero error -> d = 0 -> 0.5
    return (0.5 + d / (2.0 * scale)).clamp(0.0, 1.0)


def absolute_difference_image(original: Tensor, reconstruction: Tensor) -> Tensor:
    """Absolute difference image: black = no error, white = largest error.

    ``out = |d| / max|d|`` with ``d = clamp(reconstruction) - clamp(original)``
    and the maximum over all channels and pixels of each image. An image without
    any error is all black (0), not NaN.

    Args:
        original: N×C×H×W floating point in ``[0, 1]`` (clamped).
        reconstruction: N×C×H×W floating point in ``[0, 1]`` (clamped).

    Returns:
        N×C×H×W tensor in ``[0, 1]``, float32 (float64 for float64 inputs),
        detached, on the input device.

    Raises:
        ValueError: shapes differ, not 4-D, different devices or non-finite input.
    """
    a = _difference(original, reconstruction).abs()
    scale = _per_image_max_abs(a)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # zero error -> 0 / 1 = 0
    return (a / scale).clamp(0.0, 1.0)
