"""MACO's phase-only parameterisation: the magnitude it keeps exactly, the phase it encodes, the
template measured on the training photos, and the errors."""

from __future__ import annotations

import math

import pytest
import torch

from deeprestore.inversion.parameterisations import IMAGENET_COLOUR_SQRT, PhaseImage, get_parameterisation
from deeprestore.inversion.parameterisations.colour import normalised_basis
from deeprestore.inversion.parameterisations.photo_spectrum import photo_magnitude, self_conjugate_columns, training_photo_crops
from deeprestore.inversion.starts import initial_images
from deeprestore.nets import load_network


def _any_phase(size: tuple[int, int], n: int = 2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 10 * torch.randn(n, 3, size[0], size[1] // 2 + 1, generator=g)  # far outside [−π, π) too


@pytest.mark.parametrize("size", [(32, 32), (33, 50), (48, 31)])
def test_any_phase_gives_the_fixed_magnitude_exactly(size):
    """Before the colour mapping (a sigmoid, not linear), the image's spectrum has magnitude ``M``
    at every frequency, the self-conjugate columns and the zero frequency included."""
    param = get_parameterisation("phase")
    magnitude, _ = photo_magnitude(size)
    for seed in range(3):
        z = param.spatial(_any_phase(size, seed=seed), size)
        assert z.shape == (2, 3, *size)
        torch.testing.assert_close(
            torch.fft.rfft2(z.double(), norm="ortho").abs().float(),
            magnitude.expand(2, -1, -1, -1),
            atol=2e-5 * float(magnitude.max()),
            rtol=0,
        )
        # hence, by Parseval, the same mean and energy whatever the phase: MACO's standardisation, folded into M
        torch.testing.assert_close(z.mean((1, 2, 3)), torch.zeros(2), atol=1e-5, rtol=0)
        torch.testing.assert_close(z.flatten(1).std(1, unbiased=False), torch.ones(2), atol=1e-5, rtol=0)
        x = param.decode(_any_phase(size, seed=seed), size)
        assert x.shape == (2, 3, *size) and 0 < float(x.min()) and float(x.max()) < 1


def test_encoding_keeps_the_phase_and_discards_the_magnitude(photo_crops):
    param = PhaseImage()
    x = photo_crops[:2].clamp(0.01, 0.99)
    phase = param.encode(x)
    assert phase.shape == (2, 3, 64, 33)
    decoded = param.decode(phase, (64, 64))
    assert (decoded - x).abs().max() > 0.1  # not the photo: its magnitude is gone
    # …but its phase: away from the self-conjugate columns the decoded spectrum has the photo's phase
    basis_inverse = torch.linalg.inv(normalised_basis(torch.tensor(IMAGENET_COLOUR_SQRT)))
    photo_spectrum = torch.fft.rfft2(torch.einsum("ij,njhw->nihw", basis_inverse, torch.logit(x)), norm="ortho")
    got = torch.fft.rfft2(param.spatial(phase, (64, 64)), norm="ortho")
    columns = ~self_conjugate_columns(64)
    difference = torch.angle(got * photo_spectrum.conj())[..., columns]
    assert difference.abs().max() < 1e-3
    # and what it decodes to is a fixed point: decode ∘ encode keeps an image the parameterisation made
    torch.testing.assert_close(param.decode(param.encode(decoded), (64, 64)), decoded, atol=2e-5, rtol=0)
    assert not param.lossless and get_parameterisation("fourier+colour").lossless


def test_the_magnitude_is_the_training_photos_mean_spectrum_measured_once():
    size = (24, 40)
    crops = training_photo_crops(size)
    assert crops.shape == (40, 3, 24, 40) and 0 <= float(crops.min()) and float(crops.max()) <= 1
    basis_inverse = torch.linalg.inv(normalised_basis(torch.tensor(IMAGENET_COLOUR_SQRT, dtype=torch.float64)))
    mean = torch.fft.rfft2(torch.einsum("ij,njhw->nihw", basis_inverse, crops.double()), norm="ortho").abs().mean(0)
    magnitude, zero_phase = photo_magnitude(size)
    ratio = magnitude.double()[..., 1:-1] / mean[..., 1:-1]  # off the zero frequency and the symmetrised columns
    torch.testing.assert_close(ratio, ratio.flatten()[0].expand_as(ratio), rtol=1e-5, atol=0)  # one scale factor
    assert photo_magnitude(size)[0] is magnitude  # cached per size
    assert set(zero_phase.unique().tolist()) <= {0.0, float(torch.tensor(math.pi))} and (zero_phase[:, 1:, 1:] == 0).all()


def test_the_random_phase_start_and_bad_input():
    net = load_network("efficientnet_lite0")
    param = PhaseImage()
    starts = initial_images("random-phase", (2, 3, 32, 32), [1, 2], net, param)
    again = initial_images("random-phase", (1, 3, 32, 32), [2], net, param)
    assert starts.shape == (2, 3, 32, 32) and not torch.allclose(starts[0], starts[1])
    torch.testing.assert_close(starts[1:], again)  # per image, from its seed
    for call, match in (
        (lambda: get_parameterisation("magnitude"), "unknown parameterisation 'magnitude'; choose from"),
        (lambda: param.decode(torch.zeros(1, 3, 32, 32), (32, 32)), "a phase for 32×32 images is N×3×32×17"),
        (
            lambda: initial_images("random-phase", (1, 3, 8, 8), [0], net, get_parameterisation("fourier")),
            "needs the phase parameterisation",
        ),
    ):
        with pytest.raises(ValueError, match=match) as error:
            call()
        assert "\n" not in str(error.value)
