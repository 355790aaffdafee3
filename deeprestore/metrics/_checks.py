"""Shared input validation and numerics helpers for :mod:`deeprestore.metrics`.

Private module: the public functions in ``metrics``, ``difference_images`` and
``grids`` call these so that every entry point rejects bad input with the same
clear messages.
"""

from __future__ import annotations

import torch
from torch import Tensor

from deeprestore.image_checks import RANGE_TOLERANCE, check_images

__all__ = ["check_image_pair", "check_finite"]


def check_finite(t: Tensor, name: str) -> None:
    """Raise ``ValueError`` if ``t`` contains NaN or +-inf."""
    if not bool(torch.isfinite(t).all()):
        n_bad = int((~torch.isfinite(t)).sum())
        raise ValueError(f"{name} contains {n_bad} non-finite value(s) (NaN or inf)")


def check_image_pair(x: Tensor, y: Tensor, names: tuple[str, str] = ("x", "y"), data_range: float = 1.0) -> None:
    """Validate a reconstruction ``x`` and its reference ``y`` (``names`` in that order).

    Both must be floating-point ``N×C×H×W`` tensors of the same shape and device, with ``N ≥ 1``
    and finite values. The reference must lie in ``[0, data_range]`` (within
    :data:`~deeprestore.image_checks.RANGE_TOLERANCE`); a reconstruction may overshoot (the
    metrics clamp it) but not leave ``[−data_range, 2·data_range]``, which means another scale
    (0–255 images scored as [0, 1] ones, say).

    Raises:
        TypeError: a non-tensor.
        ValueError: anything else above, with what was found.
    """
    nx, ny = names
    tolerance = RANGE_TOLERANCE * data_range
    check_images(y, ny, channels=None, high=data_range, tolerance=tolerance)
    check_images(x, nx, channels=None, low=-data_range, high=2 * data_range, tolerance=tolerance)
    if x.shape != y.shape:
        raise ValueError(f"{nx} and {ny} must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.device != y.device:
        raise ValueError(f"{nx} and {ny} must be on the same device, got {x.device} and {y.device}")
