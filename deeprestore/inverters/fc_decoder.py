"""Inverse modules for fully connected and global-pooling operations (Dosovitskiy & Brox 2016).

D&B invert fully connected representations with fully connected layers followed by
up-convolutions. :class:`VectorToVector` undoes ``fc → fc`` (e.g. ``relu7 → relu6``);
:class:`VectorToMap` undoes ``map → vector`` (``fc6`` from ``pool5``, a global pooling): fully
connected layers to a small map, then resize-convolutions to the map's size.
"""

from __future__ import annotations

from torch import Tensor, nn

from deeprestore.inverters.upsample_conv import UpsampleConvInverse


class VectorToVector(nn.Module):
    """``N×D_out`` → ``N×D_in``: Linear → LeakyReLU(0.2) → Linear (D&B's leaky ReLU)."""

    def __init__(self, in_features: int, out_features: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, out_features))

    def forward(self, x: Tensor, size: tuple[int, int] | None = None) -> Tensor:
        return self.net(x)


class VectorToMap(nn.Module):
    """``N×D`` → ``N×C×H×W``: two fully connected layers to a ``seed_channels×s×s`` map, then an
    up-sample + conv + ReLU + conv module to the requested size.

    Args:
        in_features: length of the vector being inverted.
        out_channels: channels of the map to reconstruct.
        seed_size: side ``s`` of the first map (about half the map's side at the probe size).
        hidden: width of the first fully connected layer.
        seed_channels: channels of the first map.
        upsample_mode: ``"nearest"`` or ``"bilinear"``.
    """

    def __init__(
        self,
        in_features: int,
        out_channels: int,
        seed_size: int,
        hidden: int = 2048,
        seed_channels: int = 256,
        upsample_mode: str = "nearest",
    ) -> None:
        super().__init__()
        self.seed_channels, self.seed_size = seed_channels, seed_size
        self.fc = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, seed_channels * seed_size * seed_size),
            nn.LeakyReLU(0.2),
        )
        self.up = UpsampleConvInverse(seed_channels, out_channels, max(seed_channels, out_channels), 3, upsample_mode)

    def forward(self, x: Tensor, size: tuple[int, int]) -> Tensor:
        h = self.fc(x).view(-1, self.seed_channels, self.seed_size, self.seed_size)
        return self.up(h, size)
