"""Patches of images and of feature maps, flattened in ``C×k×k`` order (that of a conv weight).

MSc thesis "Deep Restoration", sections 3.4.2 and 5.1: patch priors on images (grey or colour,
``k×k``) and on feature maps (``C×k×k``, ``k`` about the receptive field of the next layer).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["all_patches", "random_patches", "to_grey"]

#: luma weights of scikit-image's ``rgb2gray`` (ITU-R BT.709), so grey images match skimage's.
LUMA = (0.2125, 0.7154, 0.0721)


def to_grey(images: Tensor) -> Tensor:
    """``N×3×H×W`` → ``N×1×H×W`` luma (BT.709, as ``skimage.color.rgb2gray``); 1-channel input is returned as is."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected N×1×H×W or N×3×H×W images, got {tuple(images.shape)}")
    if images.shape[1] == 1:
        return images
    red, green, blue = LUMA  # Python numbers: nothing is copied to the device
    return images[:, 0:1] * red + images[:, 1:2] * green + images[:, 2:3] * blue


def all_patches(maps: Tensor, size: int) -> Tensor:
    """Every ``size×size`` patch (stride 1, no padding) of ``N×C×H×W`` maps: ``(N·P)×(C·k·k)``."""
    if maps.ndim != 4 or min(maps.shape[-2:]) < size:
        raise ValueError(f"need N×C×H×W maps at least {size}×{size}, got {tuple(maps.shape)}")
    cols = F.unfold(maps, size)  # N×(C k k)×P
    return cols.transpose(1, 2).reshape(-1, cols.shape[1])


def random_patches(maps: Tensor, size: int, per_map: int, generator: torch.Generator | None = None) -> Tensor:
    """``per_map`` random ``size×size`` patches of each of ``N×C×H×W`` maps: ``(N·per_map)×(C·k·k)``.

    Positions are drawn uniformly (with replacement) among the valid ones, on the CPU generator.
    """
    if maps.ndim != 4 or min(maps.shape[-2:]) < size:
        raise ValueError(f"need N×C×H×W maps at least {size}×{size}, got {tuple(maps.shape)}")
    n, c, h, w = maps.shape
    ys = torch.randint(0, h - size + 1, (n, per_map), generator=generator).to(maps.device)
    xs = torch.randint(0, w - size + 1, (n, per_map), generator=generator).to(maps.device)
    offsets = torch.arange(size, device=maps.device)
    rows = (ys[..., None] + offsets).view(n, per_map, size, 1).expand(n, per_map, size, size)
    cols = (xs[..., None] + offsets).view(n, per_map, 1, size).expand(n, per_map, size, size)
    batch = torch.arange(n, device=maps.device).view(n, 1, 1, 1)
    patches = maps.permute(0, 2, 3, 1)[batch, rows, cols]  # n×per_map×k×k×C
    return patches.permute(0, 1, 4, 2, 3).reshape(n * per_map, c * size * size)
