"""Inverse module: up-sample, then convolution, ReLU, convolution.

Odena, Dumoulin & Olah (2016), "Deconvolution and checkerboard artifacts": resize-convolution
avoids the checkerboard patterns of transposed convolutions. ``N×C_out×h×w`` → ``N×C_in×H×W``,
where ``(H, W)`` is given at call time so the same module serves any input size.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class UpsampleConvInverse(nn.Module):
    """Resize to the target size, then conv (k×k) → ReLU → conv (k×k).

    Args:
        in_channels: channels of the features being inverted (the operation's output).
        out_channels: channels to reconstruct (the operation's input).
        hidden: channels between the two convolutions.
        kernel_size: odd kernel size of both convolutions.
        upsample_mode: ``"nearest"`` or ``"bilinear"``.
    """

    def __init__(self, in_channels: int, out_channels: int, hidden: int, kernel_size: int = 3, upsample_mode: str = "nearest") -> None:
        super().__init__()
        if upsample_mode not in ("nearest", "bilinear"):
            raise ValueError(f"upsample_mode must be 'nearest' or 'bilinear', got {upsample_mode!r}")
        self.upsample_mode = upsample_mode
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(in_channels, hidden, kernel_size, padding=pad)
        self.conv2 = nn.Conv2d(hidden, out_channels, kernel_size, padding=pad)

    def forward(self, x: Tensor, size: tuple[int, int]) -> Tensor:
        if tuple(x.shape[-2:]) != tuple(size):
            align = False if self.upsample_mode == "bilinear" else None
            x = F.interpolate(x, size=size, mode=self.upsample_mode, align_corners=align)
        return self.conv2(F.relu(self.conv1(x)))
