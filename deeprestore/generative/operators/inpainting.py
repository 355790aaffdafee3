"""Inpainting: ``A`` is the diagonal 0/1 mask ``M`` of the observed pixels (self-adjoint, ``Aᵀ = A``).

The measurements are the masked image ``M ⊙ x`` (``N×C×H×W``, zeros where pixels are missing), as in
deepinv's ``Inpainting`` and the inpainting experiments of CSGM (Bora et al. 2017, §6: "the
measurement matrix is … a mask") and ILO (Daras et al. 2021, §4). A pixel is observed or missing in
all channels at once. Noise from :meth:`~ForwardOperator.measure` is added to observed entries only.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from deeprestore.generative.operators.base import ForwardOperator, check_image_shape

__all__ = ["BoxInpainting", "MaskInpainting", "RandomPixelInpainting"]


class MaskInpainting(ForwardOperator):
    """``y = M ⊙ x`` for a fixed ``H×W`` 0/1 ``mask`` shared across channels.

    Args:
        image_shape: ``(C, H, W)``.
        mask: ``H×W`` tensor, nonzero where a pixel is observed (stored as a float32 buffer ``mask``
            of shape ``1×1×H×W``).
        noise_std: measurement noise ``σ``.

    ``num_measurements`` is the number of observed entries per image, ``C·(observed pixels)``;
    ``measurement_shape`` is ``(C, H, W)``.
    """

    name = "inpaint-mask"

    def __init__(self, image_shape: Sequence[int], mask: Tensor, noise_std: float = 0.0) -> None:
        super().__init__(image_shape, noise_std)
        _, height, width = self.image_shape
        if tuple(mask.shape) != (height, width):
            raise ValueError(f"mask must have shape H×W = {height}×{width}, got {tuple(mask.shape)}")
        self.register_buffer("mask", (mask != 0).to(torch.float32)[None, None])

    @property
    def measurement_shape(self) -> tuple[int, ...]:
        return self.image_shape

    @property
    def num_measurements(self) -> int:
        return self.image_shape[0] * int(self.mask.count_nonzero())

    def _forward(self, x: Tensor) -> Tensor:
        return x * self.mask.to(x.dtype)

    def _adjoint(self, y: Tensor) -> Tensor:
        return y * self.mask.to(y.dtype)

    def _shape_noise(self, noise: Tensor) -> Tensor:
        return noise * self.mask.to(noise.dtype)


class RandomPixelInpainting(MaskInpainting):
    """Keep a seeded random subset of exactly ``max(1, round(keep_fraction·H·W))`` pixels.

    Args:
        image_shape: ``(C, H, W)``.
        keep_fraction: fraction of observed pixels, in ``(0, 1]``.
        seed: seed of the CPU generator that draws the pixels.
        noise_std: measurement noise ``σ``.
    """

    name = "inpaint-pixels"

    def __init__(self, image_shape: Sequence[int], keep_fraction: float, seed: int = 0, noise_std: float = 0.0) -> None:
        keep_fraction = float(keep_fraction)
        if not 0 < keep_fraction <= 1:
            raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
        _, height, width = check_image_shape(image_shape)
        kept = max(1, round(keep_fraction * height * width))
        order = torch.randperm(height * width, generator=torch.Generator().manual_seed(int(seed)))
        mask = torch.zeros(height * width)
        mask[order[:kept]] = 1
        super().__init__(image_shape, mask.view(height, width), noise_std)
        self.keep_fraction = keep_fraction
        self.seed = int(seed)


class BoxInpainting(MaskInpainting):
    """Remove one rectangular box of pixels (centred by default).

    Args:
        image_shape: ``(C, H, W)``.
        box_size: side of a square box, or ``(box_height, box_width)``; within ``1 … H`` / ``1 … W``.
        top: row of the box's top edge (default: centred, ``(H − box_height) // 2``).
        left: column of the box's left edge (default: centred).
        noise_std: measurement noise ``σ``.
    """

    name = "inpaint-box"

    def __init__(
        self,
        image_shape: Sequence[int],
        box_size: int | Sequence[int],
        top: int | None = None,
        left: int | None = None,
        noise_std: float = 0.0,
    ) -> None:
        _, height, width = check_image_shape(image_shape)
        box_height, box_width = (int(b) for b in box_size) if isinstance(box_size, Sequence) else (int(box_size), int(box_size))
        if not (1 <= box_height <= height and 1 <= box_width <= width):
            raise ValueError(f"box_size {box_size!r} must be within 1…{height} (height) and 1…{width} (width)")
        top = (height - box_height) // 2 if top is None else int(top)
        left = (width - box_width) // 2 if left is None else int(left)
        if not (0 <= top <= height - box_height and 0 <= left <= width - box_width):
            raise ValueError(f"box {box_height}×{box_width} at (top={top}, left={left}) does not fit in {height}×{width}")
        mask = torch.ones(height, width)
        mask[top : top + box_height, left : left + box_width] = 0
        super().__init__(image_shape, mask, noise_std)
        self.box = (top, left, box_height, box_width)
