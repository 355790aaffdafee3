"""Super-resolution: ``A`` downsamples ``N×C×H×W`` images by an integer factor to ``N×C×(H/f)×(W/f)``.

Two linear downsamplers (the super-resolution task of CSGM-style methods, e.g. ILO, Daras et al.
2021 §4, and deepinv's ``Downsampling``):

* ``"area"``: average pooling over ``f×f`` blocks; ``Aᵀ y`` repeats each value over its block and
  divides by ``f²`` (analytic, exact).
* ``"bicubic"``: ``F.interpolate(x, mode="bicubic", antialias=True, align_corners=False)`` — the
  antialiased bicubic resize of PIL / ``torchvision``, a fixed linear map; ``Aᵀ`` is its
  vector-Jacobian product at any point (``torch.func.vjp``), exact up to floating-point rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from deeprestore.generative.operators.base import ForwardOperator, check_image_shape

__all__ = ["SR_MODES", "SuperResolution"]

SR_MODES = ("area", "bicubic")


class SuperResolution(ForwardOperator):
    """Downsampling by ``factor`` (``"area"`` or antialiased ``"bicubic"``).

    Args:
        image_shape: ``(C, H, W)``; ``factor`` must divide ``H`` and ``W``.
        factor: integer downsampling factor ``f ≥ 1``.
        mode: one of :data:`SR_MODES`.
        noise_std: measurement noise ``σ``.

    Measurements: ``N×C×(H/f)×(W/f)``.
    """

    name = "super-resolution"

    def __init__(self, image_shape: Sequence[int], factor: int, mode: str = "area", noise_std: float = 0.0) -> None:
        channels, height, width = check_image_shape(image_shape)
        if int(factor) != factor or factor < 1:
            raise ValueError(f"factor must be an integer ≥ 1, got {factor!r}")
        factor = int(factor)
        if height % factor or width % factor:
            raise ValueError(f"factor {factor} must divide the image size {height}×{width}")
        if mode not in SR_MODES:
            raise ValueError(f"mode must be one of {SR_MODES}, got {mode!r}")
        super().__init__(image_shape, noise_std)
        self.factor = factor
        self.mode = mode
        self._low_shape = (channels, height // factor, width // factor)

    @property
    def measurement_shape(self) -> tuple[int, ...]:
        return self._low_shape

    def _forward(self, x: Tensor) -> Tensor:
        if self.factor == 1:
            return x
        if self.mode == "area":
            return F.avg_pool2d(x, self.factor)
        return self._bicubic(x)

    def _bicubic(self, x: Tensor) -> Tensor:
        return F.interpolate(x, size=self._low_shape[1:], mode="bicubic", antialias=True, align_corners=False)

    def _adjoint(self, y: Tensor) -> Tensor:
        if self.factor == 1:
            return y
        if self.mode == "area":
            up = y.repeat_interleave(self.factor, dim=-2).repeat_interleave(self.factor, dim=-1)
            return up / self.factor**2
        # The map is linear, so its VJP at 0 is Aᵀ; torch.func ignores an outer no_grad and keeps
        # the result differentiable in ``y``.
        primal = torch.zeros((y.shape[0], *self.image_shape), dtype=y.dtype, device=y.device)
        _, vjp = torch.func.vjp(self._bicubic, primal)
        return vjp(y)[0]

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, factor={self.factor}, mode={self.mode!r}"
