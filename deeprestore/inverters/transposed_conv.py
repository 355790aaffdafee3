"""Inverse module: transposed convolution, ReLU, convolution.

The variant the thesis found best before switching to resize-convolution (Harder 2017, §3.2;
Dosovitskiy & Brox 2016 use up-convolutions). ``N×C_out×h×w`` → ``N×C_in×H×W``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def fit_size(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Crop or zero-pad ``x`` (bottom/right) to spatial ``size``."""
    dh, dw = size[0] - x.shape[-2], size[1] - x.shape[-1]
    if dh or dw:
        x = F.pad(x, (0, dw, 0, dh))  # negative padding crops
    return x


class TransposedConvInverse(nn.Module):
    """Transposed conv (kernel ``2·scale`` or 3, stride ``scale``) → ReLU → conv (k×k).

    Args:
        in_channels: channels of the features being inverted.
        out_channels: channels to reconstruct.
        hidden: channels after the transposed convolution.
        scale: integer up-sampling factor of the transposed convolution.
        kernel_size: kernel of the final convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, hidden: int, scale: int, kernel_size: int = 3) -> None:
        super().__init__()
        k = 2 * scale if scale > 1 else 3
        self.up = nn.ConvTranspose2d(in_channels, hidden, k, stride=scale, padding=(k - scale) // 2)
        self.conv = nn.Conv2d(hidden, out_channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: Tensor, size: tuple[int, int]) -> Tensor:
        h = fit_size(F.relu(self.up(x)), size)
        return self.conv(h)
