"""The high-frequency energy ratio: closed forms and an independent full-spectrum computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF

from deeprestore.metrics import HIGH_FREQUENCY_CUTOFF, high_frequency_energy, high_frequency_ratio


def stripes(amplitude: float, frequency: float, size: int = 64) -> torch.Tensor:
    """``1×3×size×size``: 0.5 plus a vertical sinusoid of ``frequency`` cycles per pixel."""
    x = torch.arange(size, dtype=torch.float64)
    wave = 0.5 + amplitude * torch.sin(2 * math.pi * frequency * x)
    return wave.expand(1, 3, size, size).clone()


def test_a_sinusoid_above_the_cutoff_scaled_by_a_gives_a_squared():
    ratio = high_frequency_ratio(stripes(0.1, 0.35), stripes(0.2, 0.35))
    torch.testing.assert_close(ratio, torch.tensor([0.25], dtype=torch.float64))


def test_a_sinusoid_below_the_cutoff_has_no_high_frequency_energy_to_speak_of():
    low, high = high_frequency_energy(stripes(0.2, 0.05)), high_frequency_energy(stripes(0.2, 0.35))
    assert float(low) < 1e-3 * float(high)


def test_energy_agrees_with_a_full_numpy_spectrum(photo_crops):
    """The half-spectrum sum (conjugate columns counted twice) equals the full 2-D DFT's sum."""
    images = photo_crops[:3].double()
    h, w = images.shape[-2:]
    window = np.outer(np.hanning(h), np.hanning(w))
    z = images.numpy() - images.numpy().mean(axis=(-2, -1), keepdims=True)
    power = np.abs(np.fft.fft2(z * window)) ** 2
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij"))
    expected = (power * (f > HIGH_FREQUENCY_CUTOFF)).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(high_frequency_energy(images).numpy(), expected, rtol=1e-10)


def test_blur_lowers_and_noise_raises_the_ratio(photo_crops):
    images = photo_crops[:4]
    assert torch.allclose(high_frequency_ratio(images, images), torch.ones(4))
    assert bool((high_frequency_ratio(TF.gaussian_blur(images, 7, 1.5), images) < 0.5).all())
    noisy = (images + 0.1 * torch.randn(images.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert bool((high_frequency_ratio(noisy, images) > 1.5).all())


def test_bad_cutoff_and_images_are_refused(photo_crops):
    with pytest.raises(ValueError, match="cutoff must be in"):
        high_frequency_energy(photo_crops[:1], cutoff=0.9)
    with pytest.raises(ValueError):
        high_frequency_ratio(photo_crops[:1] * 255, photo_crops[:1] * 255)
