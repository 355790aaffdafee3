"""The transforms applied before the network pass: differentiable, shapes kept, composition, jitter bounds."""

from __future__ import annotations

import math

import pytest
import torch

from deeprestore.inversion.presets.translations import capped_roll, capped_shift
from deeprestore.inversion.transforms import LUCENT_ANGLES, LUCENT_SCALES, RandomTransforms


def test_each_transform_is_differentiable_and_keeps_the_batch_shape():
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    for transforms in (
        RandomTransforms(pad=12, jitter=8, jitter_after=4),
        RandomTransforms(scales=LUCENT_SCALES),
        RandomTransforms(angles=LUCENT_ANGLES),
        RandomTransforms(roll=5),
        RandomTransforms(flip=True),
        RandomTransforms(colour_shift=(1.0, 1.0)),
    ):
        out = transforms(x, torch.Generator().manual_seed(3))
        assert out.shape == x.shape
        (grad,) = torch.autograd.grad(out.sum(), x)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_no_transform_is_the_identity_and_a_colour_shift_is_affine_per_channel():
    x = torch.rand(2, 3, 16, 16)
    assert torch.equal(RandomTransforms()(x, torch.Generator()), x)
    out = RandomTransforms(colour_shift=(1.0, 1.0))(x, torch.Generator().manual_seed(0))
    for c in range(3):  # out = σ_c x + μ_c with σ_c in [1/e, e], μ_c in [−1, 1], the same for every image and pixel
        sigma = (out[0, c, 0, 0] - out[0, c, 0, 1]) / (x[0, c, 0, 0] - x[0, c, 0, 1])
        mu = out[0, c, 0, 0] - sigma * x[0, c, 0, 0]
        torch.testing.assert_close(out[:, c], sigma * x[:, c] + mu, atol=1e-4, rtol=0)
        assert math.exp(-1) <= float(sigma) <= math.e and -1 <= float(mu) <= 1
    rolled = RandomTransforms(roll=3)(x, torch.Generator().manual_seed(0))
    assert any(torch.equal(rolled, torch.roll(x, (dy, dx), (-2, -1))) for dy in range(-3, 4) for dx in range(-3, 4))


def test_the_composed_warp_equals_the_warps_one_after_the_other():
    from torchvision.transforms.v2 import functional as TF

    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 64), torch.linspace(-1, 1, 64), indexing="ij")
    smooth = torch.stack([torch.sin(2 * xx + yy), torch.cos(3 * yy), xx * yy]).unsqueeze(0)
    transforms = RandomTransforms(jitter=8, angles=(9.0,), scales=(1.08,))
    composed = transforms(smooth, torch.Generator().manual_seed(5))
    first = torch.Generator().manual_seed(5)  # the warp's first draws: the translation before the scale and rotation
    shift = [float(torch.randint(8, (1,), generator=first)) for _ in range(2)]
    assert shift != [0.0, 0.0]
    moved = TF.affine(smooth, angle=0.0, translate=shift, scale=1.0, shear=[0.0, 0.0])
    stepwise = TF.affine(moved, angle=9.0, translate=[0.0, 0.0], scale=1.08, shear=[0.0, 0.0], interpolation=TF.InterpolationMode.BILINEAR)
    inner = (slice(None), slice(None), slice(16, 48), slice(16, 48))
    assert (composed[inner] - stepwise[inner]).abs().max() < 0.05


def test_translations_are_held_within_mv_jitter_in_an_inversion():
    assert capped_shift(8, 2) == 1 and capped_shift(8, 32) == 8 and capped_shift(8, None) == 8
    assert capped_roll(30, 4) == 0 and capped_roll(30, 32) == 3 and capped_roll(30, None) == 30


def test_macos_box_zooms_into_the_view_and_its_noise_is_drawn_per_step():
    x = torch.zeros(1, 3, 16, 16)
    x[..., 4:12, 4:12] = 1.0  # the centre half of the view
    zoomed = RandomTransforms(box=(0.5, 0.5))(x, torch.Generator())
    assert zoomed.shape == x.shape and zoomed[..., 1:-1, 1:-1].min() > 0.99  # a centred box of half the side fills the view
    boxes = [
        RandomTransforms(box=(0.2, 0.25), box_centre_sd=0.15)(torch.rand(1, 3, 32, 32), torch.Generator().manual_seed(s)) for s in range(3)
    ]
    assert all(b.shape == (1, 3, 32, 32) for b in boxes)
    noisy = RandomTransforms(noise=0.01)
    a, b = (noisy(x, torch.Generator().manual_seed(s)) - x for s in (0, 1))
    again = noisy(x, torch.Generator().manual_seed(0)) - x
    assert torch.equal(a, again) and not torch.equal(a, b)  # seeded by the engine's generator
    assert abs(float(a.std()) - 0.01 * math.sqrt(1 + 1 / 12)) < 0.002 and abs(float(a.mean())) < 0.002  # N(0, 1) + U(−½, ½), scaled
    with pytest.raises(ValueError, match="box must be"):
        RandomTransforms(box=(0.3, 0.2))
