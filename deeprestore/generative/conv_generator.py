"""A DCGAN-style convolutional generator, split into stages.

Radford et al. (2016, DCGAN) map the latent by a fully connected layer to a small ``4×4`` map and
double its size at every following layer. Here each doubling is nearest-neighbour upsampling
followed by a 3×3 convolution (Odena et al. 2016: no checkerboard artefacts), and there is no
batch normalisation, so every stage is ``σ(A h + b)`` with an affine ``A`` — the form that
:mod:`deeprestore.generative.lp_inversion` inverts and ILO optimises (see
:mod:`deeprestore.generative.staged_generator`).

Layers for ``image_size = 32``, ``width = 128``, ``latent_dim = 64``::

    0: z            64
    1: 128×4×4      fully connected, ReLU
    2: 64×8×8       upsample ×2, conv 3×3, ReLU
    3: 32×16×16     upsample ×2, conv 3×3, ReLU
    4: 3×32×32      upsample ×2, conv 3×3, sigmoid  (the image, in [0, 1])
"""

from __future__ import annotations

import math

from torch import nn

from deeprestore.generative.staged_generator import GeneratorStage, StagedGenerator

__all__ = ["conv_generator", "fc_image_generator"]


def conv_generator(
    latent_dim: int = 64, width: int = 128, image_size: int = 32, channels: int = 3, activation: str = "relu"
) -> StagedGenerator:
    """The DCGAN-style generator above: ``N×latent_dim → N×channels×image_size×image_size``.

    Args:
        latent_dim: size of the latent code.
        width: channels of the 4×4 map; halved at every doubling (at least 8).
        image_size: output side, ``4 · 2^k`` (8, 16, 32, 64, …).
        channels: image channels.
        activation: hidden activation (``relu`` or ``leaky_relu``); the output is a sigmoid.
    """
    doublings = math.log2(image_size / 4)
    if image_size < 8 or doublings != int(doublings):
        raise ValueError(f"image_size must be 4·2^k with k ≥ 1 (8, 16, 32, …), got {image_size}")
    if latent_dim < 1 or width < 1:
        raise ValueError(f"latent_dim and width must be positive, got {latent_dim}, {width}")
    stages = [GeneratorStage(nn.Sequential(nn.Linear(latent_dim, width * 16), nn.Unflatten(1, (width, 4, 4))), activation)]
    c = width
    for k in range(int(doublings)):
        last = k == int(doublings) - 1
        out = channels if last else max(c // 2, 8)
        stages.append(
            GeneratorStage(
                nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c, out, 3, padding=1)),
                "sigmoid" if last else activation,
            )
        )
        c = out
    return StagedGenerator(stages, (latent_dim,))


def fc_image_generator(
    latent_dim: int = 32, hidden: tuple[int, ...] = (256, 1024), image_size: int = 32, channels: int = 3, activation: str = "relu"
) -> StagedGenerator:
    """A fully connected generator of images, ``latent_dim → hidden… → channels·image_size²``
    (sigmoid output reshaped to ``N×channels×image_size×image_size``): Lei et al.'s (2019) form
    of network, trained as a VAE decoder so its layer-wise inversion can be studied on real data."""
    if latent_dim < 1 or any(h < 1 for h in hidden):
        raise ValueError(f"latent_dim and hidden widths must be positive, got {latent_dim}, {hidden}")
    widths = (latent_dim, *hidden)
    stages = [GeneratorStage(nn.Linear(a, b), activation) for a, b in zip(widths[:-1], widths[1:])]
    stages.append(
        GeneratorStage(
            nn.Sequential(nn.Linear(widths[-1], channels * image_size**2), nn.Unflatten(1, (channels, image_size, image_size))), "sigmoid"
        )
    )
    return StagedGenerator(stages, (latent_dim,))
