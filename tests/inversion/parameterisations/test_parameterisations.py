"""The image parameterisations (pixels, Fourier 1/f, decorrelated colour): round trips and bases."""

from __future__ import annotations

import math

import pytest
import torch

from deeprestore.inversion.parameterisations import PARAMETERISATIONS, colour_basis_from_images, get_parameterisation
from deeprestore.inversion.parameterisations.fourier import frequency_scale, image_to_spectrum, spectrum_to_image
from deeprestore.nets import load_network
from deeprestore.priors.units import IMAGENET_MEAN_255


@pytest.mark.parametrize("name", [name for name in PARAMETERISATIONS if name != "phase"])  # phase: lossy (test_phase.py)
def test_decode_of_encode_is_the_image(name, photo_crops):
    net = load_network("efficientnet_lite0")
    param = get_parameterisation(name, net)
    x = photo_crops[:3].clamp(0.01, 0.99)
    torch.testing.assert_close(param.decode(param.encode(x), (64, 64)), x, atol=2e-5, rtol=0)


def test_a_constant_image_maps_where_it_should():
    grey = torch.full((1, 3, 8, 10), 0.5)
    assert get_parameterisation("colour").encode(grey).abs().max() < 1e-6  # the sigmoid's centre
    assert get_parameterisation("fourier+colour").encode(grey).abs().max() < 1e-5
    mean_colour = torch.tensor(IMAGENET_MEAN_255).view(1, 3, 1, 1).expand(1, 3, 8, 10) / 255
    assert get_parameterisation("pixels").encode(mean_colour).abs().max() < 1e-4
    spectrum = image_to_spectrum(torch.full((1, 3, 8, 10), 0.7))  # only the DC term: 4·0.7·√(HW) / max(H, W)
    dc = spectrum[..., 0, 0, 0]
    torch.testing.assert_close(dc, torch.full((1, 3), 4 * 0.7 * math.sqrt(80) / 10))
    spectrum[..., 0, 0, :] = 0
    assert spectrum.abs().max() < 1e-5


def test_the_fourier_basis_scales_each_frequency_by_one_over_f():
    scale = frequency_scale((16, 16))
    assert scale[0, 0] == 16 and scale[0, 4] == pytest.approx(4.0) and scale[4, 0] == pytest.approx(4.0)
    for k in (1, 4):  # a unit coefficient at horizontal frequency k/16 gives a cosine of amplitude ∝ 1/f
        spectrum = torch.zeros(1, 1, 16, 9, 2)
        spectrum[0, 0, 0, k, 0] = 1.0
        wave = spectrum_to_image(spectrum, (16, 16))[0, 0]
        amplitude = wave.abs().max()
        torch.testing.assert_close(amplitude, torch.tensor(2 / 16 * 16 / k / 4))


def test_a_colour_basis_measured_on_photos_whitens_their_colours(photo_crops):
    basis = colour_basis_from_images(photo_crops)
    pixels = photo_crops.permute(1, 0, 2, 3).reshape(3, -1)
    whitened = torch.linalg.solve(basis.double(), pixels.double() - pixels.double().mean(1, keepdim=True))
    cov = torch.cov(whitened)
    off = cov - torch.diag(torch.diag(cov))
    assert off.abs().max() < 1e-6 * cov.diag().max() and torch.allclose(cov.diag(), cov.diag()[0].expand(3), rtol=1e-6)
