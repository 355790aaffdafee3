"""Inverse module for an MBConv block (EfficientNet; Sandler et al. 2018's inverted bottleneck).

Mirrors the block it undoes: up-sample (when the block had stride 2), 1×1 expansion, k×k
depthwise convolution, 1×1 projection, ReLU6 between, and a residual connection when the block
keeps the shape. ``N×C_out×h×w`` → ``N×C_in×H×W``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from deeprestore.inverters.transposed_conv import fit_size


class MBConvInverse(nn.Module):
    """Args:
        in_channels: channels of the block's output (inverted here).
        out_channels: channels of the block's input (reconstructed).
        expand: expansion ratio of the hidden depthwise layer.
        kernel_size: depthwise kernel size.
        scale: the block's stride.
        upsample: ``"nearest"``, ``"bilinear"`` or ``"transposed"``.
    """

    def __init__(self, in_channels: int, out_channels: int, expand: int = 6, kernel_size: int = 3, scale: int = 1, upsample: str = "nearest") -> None:
        super().__init__()
        hidden = max(in_channels, out_channels) * expand
        self.upsample = upsample
        self.up = nn.ConvTranspose2d(in_channels, in_channels, 2 * scale, stride=scale, padding=scale // 2, groups=in_channels) if upsample == "transposed" and scale > 1 else None
        self.expand = nn.Conv2d(in_channels, hidden, 1)
        self.depthwise = nn.Conv2d(hidden, hidden, kernel_size, padding=kernel_size // 2, groups=hidden)
        self.project = nn.Conv2d(hidden, out_channels, 1)
        self.residual = in_channels == out_channels

    def forward(self, x: Tensor, size: tuple[int, int]) -> Tensor:
        if tuple(x.shape[-2:]) != tuple(size):
            if self.up is not None:
                x = fit_size(self.up(x), size)
            else:
                align = False if self.upsample == "bilinear" else None
                x = F.interpolate(x, size=size, mode="bilinear" if self.upsample == "bilinear" else "nearest", align_corners=align)
        h = F.relu6(self.expand(x))
        h = F.relu6(self.depthwise(h))
        h = self.project(h)
        return h + x if self.residual else h
