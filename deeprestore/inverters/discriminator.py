"""The DeePSiM discriminator: is this image the one behind these features?

Dosovitskiy & Brox, NeurIPS 2016, "Generating images with perceptual similarity metrics based on
deep networks", §3 and the supplement's architecture table: a convolutional path on the image
(five convolutions, 7×7/4 → 5×5/1 → 3×3/2 → 3×3/1 → 3×3/2 with 32, 64, 128, 256, 256 channels,
then an average over the whole map) and, for inversion, a fully connected path on the features
being inverted (1024 → 512); the two are concatenated and judged by two fully connected layers
(512 → 1) with dropout 0.5. Leaky ReLUs (slope 0.2) throughout. One logit, used with the logistic
loss, is the paper's two-way softmax.

Feature maps (the paper inverts AlexNet's fully connected layers as well as its maps) are first
averaged to a 4×4 grid, so the discriminator has the same size at any input resolution; each
sample's features are divided by their root mean square, so a layer's units do not matter.
Dropout draws its masks from a generator passed in, so a training step is a function of the
step's seed alone and a resumed run repeats an uninterrupted one bit for bit.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["FEATURE_GRID", "FeatureConditionedDiscriminator"]

#: Side of the grid feature maps are averaged to before the fully connected path.
FEATURE_GRID: int = 4
_IMAGE_PATH = ((32, 7, 4), (64, 5, 1), (128, 3, 2), (256, 3, 1), (256, 3, 2))  # (channels, kernel, stride)


class FeatureConditionedDiscriminator(nn.Module):
    """``D(image, features) → logit`` (module docstring).

    Args:
        feature_shape: shape of one sample's features, ``(C, h, w)`` or ``(D,)``.
        image_channels: channels of the image.
        width: multiplier of every hidden width (1 = the paper's).
        dropout: dropout probability before each fully connected judgement layer.
    """

    def __init__(self, feature_shape: tuple[int, ...], image_channels: int = 3, width: float = 1.0, dropout: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.dropout = dropout
        layers: list[nn.Module] = []
        channels = image_channels
        for out, kernel, stride in _IMAGE_PATH:
            out = max(1, round(out * width))
            layers += [nn.Conv2d(channels, out, kernel, stride, padding=kernel // 2), nn.LeakyReLU(0.2)]
            channels = out
        self.image_path = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        hidden = [max(1, round(n * width)) for n in (1024, 512, 512)]
        pool = [nn.AdaptiveAvgPool2d(FEATURE_GRID), nn.Flatten()] if len(feature_shape) == 3 else []
        inputs = feature_shape[0] * (FEATURE_GRID**2 if len(feature_shape) == 3 else 1)
        self.feature_path = nn.Sequential(
            *pool, nn.Linear(inputs, hidden[0]), nn.LeakyReLU(0.2), nn.Linear(hidden[0], hidden[1]), nn.LeakyReLU(0.2)
        )
        self.judge = nn.Linear(channels + hidden[1], hidden[2])
        self.logit = nn.Linear(hidden[2], 1)

    def forward(self, images: Tensor, features: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Logits ``(N,)`` that ``images`` (``N×C×H×W``, the network's input units) are real images
        with these ``features`` (``N×C×h×w`` or ``N×D``). In training mode, dropout masks come from
        ``generator`` (the default generator if ``None``)."""
        rms = features.flatten(1).square().mean(dim=1).add(1e-12).sqrt()
        joined = torch.cat([self.image_path(images), self.feature_path(features / rms.view(-1, *[1] * (features.ndim - 1)))], dim=1)
        hidden = nn.functional.leaky_relu(self.judge(self._dropout(joined, generator)), 0.2)
        return self.logit(self._dropout(hidden, generator)).squeeze(1)

    def _dropout(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        if not self.training or self.dropout == 0.0:
            return x
        keep = torch.rand(x.shape, generator=generator, device=x.device) >= self.dropout
        return x * keep.to(x.dtype) / (1.0 - self.dropout)
