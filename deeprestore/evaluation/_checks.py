"""Shared input validation and numerics helpers for :mod:`deeprestore.evaluation`.

Private module: the public functions in ``metrics``, ``difference_images`` and
``grids`` call these so that every entry point rejects bad input with the same
clear messages.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor

__all__ = ["check_image_pair", "check_finite", "compute_dtype", "full_precision"]


def compute_dtype(t: Tensor) -> torch.dtype:
    """Dtype to compute in: float64 stays float64, everything else is float32.

    Half / bfloat16 inputs (e.g. produced under ``torch.autocast``) are upcast so
    that metrics are not computed with 8 bits of mantissa.
    """
    return torch.float64 if t.dtype == torch.float64 else torch.float32


@contextlib.contextmanager
def full_precision(device: torch.device) -> Iterator[None]:
    """Disable autocast on ``device`` for the enclosed block.

    Inside a ``torch.autocast`` region, ops such as ``conv2d`` (used by SSIM) would
    otherwise silently run in bf16/fp16 even on float32 tensors.
    """
    device_type = device.type
    if torch.amp.is_autocast_available(device_type):
        with torch.autocast(device_type=device_type, enabled=False):
            yield
    else:  # e.g. "meta" or an exotic backend without autocast support
        yield


def check_finite(t: Tensor, name: str) -> None:
    """Raise ``ValueError`` if ``t`` contains NaN or +-inf."""
    if not bool(torch.isfinite(t).all()):
        n_bad = int((~torch.isfinite(t)).sum())
        raise ValueError(f"{name} contains {n_bad} non-finite value(s) (NaN or inf)")


def _check_tensor(t: object, name: str) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor with values in [0, 1], got dtype {t.dtype} "
            "(convert uint8 images with `.float() / 255`)"
        )
    return t


def check_image_pair(x: Tensor, y: Tensor, names: tuple[str, str] = ("x", "y")) -> None:
    """Validate a pair of image batches.

    Args:
        x: N×C×H×W floating-point tensor.
        y: N×C×H×W floating-point tensor, same shape and device as ``x``.
        names: how to call the two arguments in error messages.

    Raises:
        TypeError: a non-tensor or a non-floating-point dtype.
        ValueError: not 4-D, shapes or devices differ, or non-finite values.
    """
    nx, ny = names
    _check_tensor(x, nx)
    _check_tensor(y, ny)
    for t, n in ((x, nx), (y, ny)):
        if t.ndim != 4:
            raise ValueError(f"{n} must be a 4-D N×C×H×W tensor, got {t.ndim}-D tensor of shape {tuple(t.shape)}")
    if x.shape != y.shape:
        raise ValueError(f"{nx} and {ny} must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.device != y.device:
        raise ValueError(f"{nx} and {ny} must be on the same device, got {x.device} and {y.device}")
    check_finite(x, nx)
    check_finite(y, ny)
