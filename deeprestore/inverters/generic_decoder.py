"""An inverting network for any layer of any network, built from the feature shape alone.

Dosovitskiy & Brox (2016, §3 and their table 1) invert a layer with a few convolutions at the
features' resolution followed by up-convolutions that double the resolution until the image's is
reached, with leaky ReLUs (0.2); fully connected features first pass through fully connected
layers to a small map. :class:`GenericDecoder` follows that recipe for whatever shape a layer has:

Features of any network come in any scale (a ViT's tokens, a batch-normed ResNet's blocks), so the
decoder first standardises them per channel with running statistics (``BatchNorm`` without
affine parameters: batch statistics while training, the running ones in evaluation, so a
reconstruction never depends on its batch there). Then:

* a feature map ``N×C×h×w``: conv 3×3 → LeakyReLU → conv 3×3 → LeakyReLU at ``h×w`` (``c₀``
  channels), then ``n = ⌈log₂(H/h)⌉`` up-sampling stages, each halving the channels (at least
  ``min_channels``), then a 3×3 conv to the 3 image channels;
* a vector ``N×D``: Linear → LeakyReLU → Linear to a ``256×4×4`` map, then the same stages;
* ViT tokens arrive as ``N×D×h×w`` maps (the grid layout of :mod:`deeprestore.nets.tokens`).

Each stage is a resize-convolution (:class:`UpsampleConvInverse`, Odena et al. 2016) or a
transposed convolution (:class:`TransposedConvInverse`); stage sizes follow the image size given at
call time (the last stage lands exactly on it), so one decoder serves any input size. The output
is the image in the network's normalised units, like :class:`~deeprestore.inverters.InverterChain`'s.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from deeprestore.inverters.operations import IMAGE
from deeprestore.inverters.transposed_conv import TransposedConvInverse
from deeprestore.inverters.upsample_conv import UpsampleConvInverse

__all__ = ["SEED_CHANNELS", "SEED_SIZE", "GenericDecoder", "stage_sizes"]

#: the first map of a vector layer's decoder: ``SEED_CHANNELS × SEED_SIZE × SEED_SIZE``
SEED_CHANNELS, SEED_SIZE = 256, 4


def stage_sizes(stages: int, image: tuple[int, int]) -> list[tuple[int, int]]:
    """The output sizes of ``stages`` doubling stages that end exactly on ``image``:
    ``⌈image / 2^(stages − k)⌉`` for ``k = 1 … stages``."""
    return [(math.ceil(image[0] / 2 ** (stages - k)), math.ceil(image[1] / 2 ** (stages - k))) for k in range(1, stages + 1)]


class GenericDecoder(nn.Module):
    """Features at ``target`` → the image (normalised units), from the feature shape alone.

    Args:
        target: the layer it inverts.
        feature_shape: the layer's output without the batch dimension, ``(C, h, w)`` or ``(D,)``.
        stride: image pixels per feature pixel (``None`` for vectors).
        image_size: the image side the decoder is built for (sets a vector layer's stages).
        module_type: ``"upsample"`` (resize-conv) or ``"transposed"`` up-sampling stages.
        upsample_mode: ``"nearest"`` or ``"bilinear"`` for resize-convolutions.
        kernel_size: kernel of the convolutions.
        width: ``c₀ = width · C`` channels at the features' resolution (clamped to
            ``[min_channels, max_channels]``).
        min_channels, max_channels: channel bounds of every stage.
    """

    def __init__(
        self,
        target: str,
        feature_shape: tuple[int, ...],
        stride: float | None,
        image_size: int = 224,
        module_type: str = "upsample",
        upsample_mode: str = "nearest",
        kernel_size: int = 3,
        width: float = 1.0,
        min_channels: int = 32,
        max_channels: int = 512,
    ) -> None:
        super().__init__()
        self.target = target
        self.is_vector = len(feature_shape) == 1
        self.module_type = module_type
        pad = kernel_size // 2
        if self.is_vector:
            hidden = min(4096, max(1024, feature_shape[0]))
            self.head: nn.Module = nn.Sequential(
                nn.BatchNorm1d(feature_shape[0], affine=False),
                nn.Linear(feature_shape[0], hidden),
                nn.LeakyReLU(0.2),
                nn.Linear(hidden, SEED_CHANNELS * SEED_SIZE**2),
                nn.LeakyReLU(0.2),
            )
            channels, factor = SEED_CHANNELS, image_size / SEED_SIZE
        else:
            channels = min(max_channels, max(min_channels, round(feature_shape[0] * width)))
            self.head = nn.Sequential(
                nn.BatchNorm2d(feature_shape[0], affine=False),
                nn.Conv2d(feature_shape[0], channels, kernel_size, padding=pad),
                nn.LeakyReLU(0.2),
                nn.Conv2d(channels, channels, kernel_size, padding=pad),
                nn.LeakyReLU(0.2),
            )
            factor = stride or 1.0
        n_stages = max(0, math.ceil(math.log2(factor) - 1e-9))
        self.stages = nn.ModuleList()
        for _ in range(n_stages):
            out = max(min_channels, channels // 2)
            up = (
                TransposedConvInverse(channels, out, out, 2, kernel_size)
                if module_type == "transposed"
                else UpsampleConvInverse(channels, out, out, kernel_size, upsample_mode)
            )
            self.stages.append(up)
            channels = out
        self.to_rgb = nn.Conv2d(channels, 3, kernel_size, padding=pad)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, features: Tensor, sizes: dict[str, tuple[int, int]]) -> dict[str, Tensor]:
        """``{"image": N×3×H×W}`` for ``H×W = sizes["image"]``, from ``N×C×h×w`` or ``N×D`` features."""
        image = sizes[IMAGE]
        h = self.head(features)
        if self.is_vector:
            h = h.view(-1, SEED_CHANNELS, SEED_SIZE, SEED_SIZE)
        for stage, size in zip(self.stages, stage_sizes(len(self.stages), image)):
            h = self.act(stage(h, size))
        if tuple(h.shape[-2:]) != tuple(image):
            h = nn.functional.interpolate(h, size=image, mode="bilinear", align_corners=False)
        return {IMAGE: self.to_rgb(h)}
