"""Denoising: ``A = I`` and ``y = x + σ ε`` (deepinv's ``Denoising``; Bora et al. 2017 with ``A = I``)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from deeprestore.generative.operators.base import ForwardOperator

__all__ = ["GaussianDenoising"]


class GaussianDenoising(ForwardOperator):
    """The identity on ``N×C×H×W`` images; :meth:`~ForwardOperator.measure` adds ``N(0, σ²)`` noise.

    Args:
        image_shape: ``(C, H, W)``.
        noise_std: ``σ`` (``≥ 0``; 0.1 by default).
    """

    name = "denoise"

    def __init__(self, image_shape: Sequence[int], noise_std: float = 0.1) -> None:
        super().__init__(image_shape, noise_std)

    @property
    def measurement_shape(self) -> tuple[int, ...]:
        return self.image_shape

    def _forward(self, x: Tensor) -> Tensor:
        return x

    def _adjoint(self, y: Tensor) -> Tensor:
        return y
