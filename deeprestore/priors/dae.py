"""Denoising-autoencoder priors (Alain & Bengio 2014; Nguyen et al. 2016, "Plug & Play Generative
Networks"; MSc thesis §5.1).

A denoising autoencoder ``r`` trained to undo Gaussian noise of standard deviation σ
(``r(x + σε) ≈ x``) estimates the score of the data density: ``(r(x) − x)/σ² → ∇ₓ log p(x)`` as
σ → 0 (Alain & Bengio, JMLR 15, 2014, Theorem 1). Used as a prior, ``−(r(x) − x)/σ²`` is the
gradient of the energy ``−log p``; no energy value exists. :class:`DAEPrior` therefore returns a
surrogate ``−⟨sg[(r(x) − x)/σ²], x⟩ / (H W)`` per image (``sg``: stop-gradient) whose gradient is
that estimate (per pixel) and whose value means nothing — do not compare it across images.

On feature maps, the same surrogate is applied to ``Φ_l(x)`` and its gradient flows back through
the network to the image (thesis figure 3).

Precision: :class:`DAEPrior` computes in float32 whatever the input and with any autocast turned
off inside (Lightning's ``bf16-mixed``): the score is a difference ``r(x) − x`` divided by ``σ²``,
which bf16's three digits would cancel.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from deeprestore.nets.feature_network import FeatureNetwork
from deeprestore.precision import compute_dtype, full_precision
from deeprestore.priors.base import ImagePrior

__all__ = ["DAEPrior", "DenoisingAutoencoder", "dae_score"]


class DenoisingAutoencoder(nn.Module):
    """A small residual convolutional denoiser ``r(x) = x + f(x)`` for ``N×C×H×W`` maps.

    ``f``: ``depth`` 3×3 convolutions of ``width`` channels with ReLUs, then a 3×3 convolution
    back to ``C`` channels (zero-initialised, so ``r`` starts as the identity). Same size out.
    """

    def __init__(self, channels: int, width: int = 64, depth: int = 4) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = channels
        for _ in range(depth):
            layers += [nn.Conv2d(c, width, 3, padding=1), nn.ReLU()]
            c = width
        last = nn.Conv2d(c, channels, 3, padding=1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.residual = nn.Sequential(*layers, last)
        self.channels = channels

    def forward(self, x: Tensor) -> Tensor:
        return x + self.residual(x)


def dae_score(dae: nn.Module, x: Tensor, sigma: float) -> Tensor:
    """Alain & Bengio's score estimate ``(r(x) − x)/σ²``, same shape as ``x``."""
    return (dae(x) - x) / sigma**2


class DAEPrior(ImagePrior):
    """A DAE as a prior term of the inversion: a surrogate whose gradient is ``−(r(x) − x)/(σ² H W)``.

    Args:
        dae: the trained denoiser (on [0, 1] images, or on ``net``'s feature maps at ``layer``).
        sigma: the noise level it was trained at (in the units of what it denoises).
        net, layer: for a feature-map DAE; ``None`` for an image DAE.
    """

    def __init__(self, dae: nn.Module, sigma: float, net: FeatureNetwork | None = None, layer: str | None = None) -> None:
        super().__init__()
        if (net is None) != (layer is None):
            raise ValueError("a feature-map DAE prior needs both net and layer")
        self.dae = dae.eval().requires_grad_(False)
        self.sigma, self.net, self.layer = sigma, net, layer

    def forward(self, images: Tensor) -> Tensor:
        with full_precision(images.device):
            images = images.to(compute_dtype(images))
            maps = images if self.net is None else self.net.features(images, self.layer)[self.layer]
            with torch.no_grad():
                score = dae_score(self.dae, maps.detach(), self.sigma)
            return -(score * maps).sum((1, 2, 3)) / (maps.shape[-2] * maps.shape[-1])

    @property
    def name(self) -> str:
        return f"dae-{self.layer or 'image'}"
