"""The denoisers of the denoising study: MAP denoising with priors, and scikit-image's classics.

Grey images with additive Gaussian noise (0–255 scale, seeded per image and σ) are denoised by

* ``foe-roth``: Roth & Black's published 5×5 Fields of Experts through
  :func:`~deeprestore.restoration.map_denoise` (0–255 units);
* ``<name>`` for each trained grey :class:`~deeprestore.priors.PatchPriorModule` checkpoint given
  (our score-matching FoE / ICA; [0, 1] units), through the same denoiser;
* ``tv-chambolle``: ``skimage.restoration.denoise_tv_chambolle``;
* ``nl-means``: ``skimage.restoration.denoise_nl_means`` (``fast_mode``, 5×5 patches, σ given).

Every method has one parameter (λ, the TV weight, NLM's ``h/σ``) and a grid of it per σ
(:attr:`Denoiser.grid`); the study picks the value by the same rule for every method.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from skimage.restoration import denoise_nl_means, denoise_tv_chambolle

from deeprestore.priors.patch_energy import PatchEnergy
from deeprestore.priors.roth_foe import roth_foe
from deeprestore.restoration import map_denoise

__all__ = ["Denoiser", "default_denoisers", "noisy_copy", "prior_denoiser"]

Image = np.ndarray  # H×W float64 in 0–255


@dataclass(frozen=True)
class Denoiser:
    """``denoise(noisy, sigma, param) → estimate`` (H×W, 0–255) and the grid of ``param``."""

    name: str
    denoise: Callable[[Image, float, float], Image]
    grid: Callable[[float], Sequence[float]]


def prior_denoiser(name: str, energy: PatchEnergy, units: float, grid: Sequence[float], iterations: int = 100) -> Denoiser:
    """MAP denoising with a grey patch prior whose units are ``units`` per grey level
    (1 for Roth's 0–255 FoE, 1/255 for priors trained on [0, 1] images); ``param`` is λ."""
    energy = energy.double().eval()
    for p in energy.parameters():
        p.requires_grad_(False)

    def denoise(noisy: Image, sigma: float, weight: float) -> Image:
        y = torch.from_numpy(noisy)[None, None]
        out = map_denoise(y, lambda x: energy.field_energy(x * units), sigma, weight, iterations=iterations)
        return out[0, 0].numpy()

    return Denoiser(name, denoise, lambda sigma: grid)


def default_denoisers(priors: dict[str, PatchEnergy] | None = None) -> list[Denoiser]:
    """Roth's FoE, the given trained priors ([0, 1] units), TV (Chambolle) and non-local means."""
    found = [prior_denoiser("foe-roth", roth_foe(5), 1.0, (4.0, 7.0, 8.5, 10.0))]
    found += [prior_denoiser(name, energy, 1 / 255, (2.0, 8.0, 32.0, 128.0, 512.0)) for name, energy in (priors or {}).items()]
    found.append(
        Denoiser(
            "tv-chambolle",
            lambda y, s, w: 255 * denoise_tv_chambolle(y / 255, weight=w),
            lambda s: tuple(round(v, 3) for v in np.geomspace(0.02, 0.4, 12)),
        )
    )
    found.append(
        Denoiser(
            "nl-means",
            lambda y, s, h: 255 * denoise_nl_means(y / 255, h=h * s / 255, sigma=s / 255, patch_size=5, patch_distance=6, fast_mode=True),
            lambda s: (0.6, 0.8, 1.0, 1.2),
        )
    )
    return found


def noisy_copy(image: Image, sigma: float, seed: int) -> Image:
    """``image + N(0, σ²)`` with a generator seeded by ``seed`` (not clipped)."""
    return image + np.random.default_rng(seed).normal(0.0, sigma, image.shape)
