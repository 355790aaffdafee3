"""Shared input validation for :mod:`deeprestore.priors` (private).

The priors are called once per optimisation step, so the checks are cheap: type, rank,
floating dtype and channel count only. No finiteness check (it would force a device sync).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor

__all__ = ["as_mean_colour", "check_image_batch"]


def check_image_batch(images: object, name: str = "images", channels: int | None = None) -> Tensor:
    """Validate the form of an ``N×C×H×W`` floating-point image batch — type, rank, dtype, channels,
    never its values (unlike :func:`deeprestore.image_checks.check_images`, which reads them and
    waits for the device) — and return it.

    Args:
        images: the object to check.
        name: how to call it in error messages.
        channels: if given, the required ``C``.

    Raises:
        TypeError: not a tensor, or not a floating-point dtype.
        ValueError: not 4-D, or the wrong number of channels.
    """
    if not isinstance(images, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if not images.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {images.dtype} (convert uint8 images with `.float() / 255`)")
    if images.ndim != 4:
        raise ValueError(f"{name} must be a 4-D N×C×H×W tensor, got shape {tuple(images.shape)}")
    if channels is not None and images.shape[1] != channels:
        raise ValueError(f"{name} has {images.shape[1]} channel(s) but the mean colour has {channels} value(s)")
    return images


def as_mean_colour(mean: float | Sequence[float]) -> tuple[float, ...]:
    """Normalise a mean colour (one value, or one value per channel) to a tuple of finite floats."""
    values = (float(mean),) if isinstance(mean, (int, float)) else tuple(float(m) for m in mean)
    if not values:
        raise ValueError("mean colour must have at least one value")
    if not all(math.isfinite(m) for m in values):
        raise ValueError(f"mean colour must be finite, got {values}")
    return values
