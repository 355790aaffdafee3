"""Validation of the library's image convention: float tensors ``N×C×H×W`` with values in ``[0, 1]``.

The public entry points that take images (:func:`~deeprestore.inversion.invert`,
:func:`~deeprestore.inversion.caricature`, the metrics in :mod:`deeprestore.metrics.scores`)
call :func:`check_images` first, so that images on another scale fail with a message that says
what was found and how to convert it, instead of giving a plausible-looking wrong result:

============================  ===================================================
input                         message
============================  ===================================================
``uint8`` (or any integer)    not a float tensor: convert with ``.float() / 255``
values up to 255              looks like the 0–255 scale: divide by 255
values down to −1             looks like the [−1, 1] scale: use ``(x + 1) / 2``
``N×H×W`` or ``3×H×W``        not 4-D: add the batch dimension (``x[None]``)
no images (``N = 0``)         empty batch
NaN or inf                    non-finite values
============================  ===================================================

Values may leave ``[0, 1]`` by :data:`RANGE_TOLERANCE` (a quarter of an 8-bit level), which
covers rounding in resizing and colour conversion.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["RANGE_TOLERANCE", "check_images"]

#: How far values may leave [0, 1]: a quarter of an 8-bit grey level.
RANGE_TOLERANCE = 0.25 / 255


def _scale_hint(lowest: float, highest: float, low: float, high: float) -> str:
    """A likely conversion for values found in ``[lowest, highest]`` where ``[low, high]`` was allowed."""
    if highest > 5 * high:
        return "; this looks like the 0–255 scale: divide by 255"
    if lowest < low - 0.25 * (high - low):
        return "; this looks like the [−1, 1] scale: use (x + 1) / 2"
    return ""


def check_images(
    images: object,
    name: str = "images",
    *,
    channels: int | None = 3,
    low: float = 0.0,
    high: float = 1.0,
    tolerance: float = RANGE_TOLERANCE,
) -> Tensor:
    """Check a batch of images against the library's convention and return it unchanged.

    Args:
        images: the batch, ``N×C×H×W``.
        name: what the message calls it.
        channels: the required ``C`` (``None``: any).
        low, high: the allowed range of the values (``[0, 1]``; wider for reconstructions,
            which the metrics clamp).
        tolerance: how far values may leave ``[low, high]``.

    Returns:
        ``images`` (a floating-point tensor of any float dtype; callers convert as they need).

    Raises:
        TypeError: not a tensor.
        ValueError: not floating point, not 4-D, the wrong number of channels, an empty batch,
            non-finite values, or values outside the range (the message suggests a conversion).
    """
    if not isinstance(images, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor N×3×H×W in [0, 1], got {type(images).__name__}")
    if not images.is_floating_point():
        raise ValueError(
            f"{name} must be a float tensor with values in [0, 1], got dtype {images.dtype} (convert uint8 images with `.float() / 255`)"
        )
    if images.ndim != 4:
        hint = " (add the batch dimension: images[None])" if images.ndim == 3 else ""
        raise ValueError(f"{name} must be a 4-D N×C×H×W tensor, got shape {tuple(images.shape)}{hint}")
    if channels is not None and images.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channels (N×{channels}×H×W), got shape {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (shape {tuple(images.shape)}): give at least one image")
    if images.shape[-1] == 0 or images.shape[-2] == 0:
        raise ValueError(f"{name} has no pixels (shape {tuple(images.shape)})")
    finite = torch.isfinite(images)
    if not bool(finite.all()):
        raise ValueError(f"{name} contains {int((~finite).sum())} non-finite value(s) (NaN or inf)")
    lowest, highest = float(images.min()), float(images.max())
    if lowest < low - tolerance or highest > high + tolerance:
        raise ValueError(
            f"{name} must have values in [{low:g}, {high:g}], got values in [{lowest:.4g}, {highest:.4g}]"
            + _scale_hint(lowest, highest, low, high)
        )
    return images
