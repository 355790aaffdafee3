"""Losses of the inverting networks."""

from __future__ import annotations

from torch import Tensor


def relative_mse(prediction: Tensor, target: Tensor, eps: float = 1e-8) -> Tensor:
    """Per-sample ‖x̂ − x‖² / ‖x‖², averaged over the batch.

    The normalisation of Mahendran & Vedaldi (2015, eq. 3), used here so that every level of a
    chain — image and feature maps of very different magnitudes — contributes on the same scale.

    Args:
        prediction, target: ``N×…`` tensors of equal shape.

    Returns:
        a scalar (float32 even under autocast).
    """
    p, t = prediction.float().flatten(1), target.float().flatten(1)
    return ((p - t).pow(2).sum(1) / t.pow(2).sum(1).clamp_min(eps)).mean()


__all__ = ["relative_mse"]
