"""Jitter (Mahendran & Vedaldi 2016), as the authors' code implements it.

The optimised image is a canvas ``T − 1`` pixels larger than the target image in each direction;
every iteration a random ``H×W`` crop of it, at an offset uniform in ``{0, …, T − 1}²``, is what
the network sees, so the reconstruction cannot rely on exact alignment with the network's stride
grid. The priors act on the whole canvas; the result is the centre crop (offset ``⌊(T − 1)/2⌋``).
``T = max(round(stride / 4), 1)`` for the stride of the inverted layer (``T = 1``: no jitter).
"""

from __future__ import annotations

import torch
from torch import Tensor


def jitter_for_stride(stride: float | None) -> int:
    """``T = max(round(stride / 4), 1)``; a vector layer (no stride) is given ``None`` → 1."""
    if stride is None:
        return 1
    return max(int(round(stride / 4)), 1)


def draw_offset(amount: int, generator: torch.Generator) -> tuple[int, int]:
    """A crop offset uniform in ``{0, …, T − 1}²``."""
    if amount <= 1:
        return 0, 0
    dy, dx = torch.randint(0, amount, (2,), generator=generator).tolist()
    return int(dy), int(dx)


def centre_offset(amount: int) -> tuple[int, int]:
    """The offset of the reported (centre) crop, ``⌊(T − 1)/2⌋`` in both directions."""
    c = max(amount - 1, 0) // 2
    return c, c


def crop(canvas: Tensor, offset: tuple[int, int], size: tuple[int, int]) -> Tensor:
    """The ``size`` crop of an ``N×C×H'×W'`` canvas at ``offset = (dy, dx)``."""
    dy, dx = offset
    return canvas[..., dy : dy + size[0], dx : dx + size[1]]
