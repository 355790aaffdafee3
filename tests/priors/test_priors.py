"""Tests of the Mahendran & Vedaldi image priors (deeprestore.priors).

Hand-computed values use plain arithmetic on 1×3×2×2 images; the M&V-unit cases build the
library image from chosen M&V values, x = (v + m) / 255, so the expected energies are simple.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deeprestore.priors import (
    B_PLUS,
    IMAGENET_MEAN_255,
    AlphaNorm,
    B,
    BoundedRange,
    ImagePrior,
    TotalVariation,
    V,
    from_mv_units,
    mean_tensor,
    to_mv_units,
)

MEAN = IMAGENET_MEAN_255


def _image(channels: list[list[list[float]]], dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A 1×C×H×W tensor from nested lists [channel][row][column]."""
    return torch.tensor([channels], dtype=dtype)


def _library_from_mv(mv: torch.Tensor) -> torch.Tensor:
    """Library image whose M&V representation is ``mv`` (by hand: (v + m) / 255)."""
    m = torch.tensor(MEAN, dtype=mv.dtype).view(1, 3, 1, 1)
    return (mv + m) / 255.0


# Raw-units case: channel 0 [[1, -1], [2, 0]], channel 1 zero, channel 2 [[0.5, 0], [0, 0]].
RAW = [[[1.0, -1.0], [2.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]], [[0.5, 0.0], [0.0, 0.0]]]

# M&V-units case (pixels as colour vectors): (0,0) = (160, 0, 0), (0,1) = (0, -80, 0),
# (1,0) = (48, 64, 0) (norm 80), (1,1) = (0, 0, 0).
MV = [[[160.0, 0.0], [48.0, 0.0]], [[0.0, -80.0], [64.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]]


# --------------------------------------------------------------------------------------- units


def test_constants() -> None:
    assert B == 80.0 and B_PLUS == 160.0
    assert V == pytest.approx(80.0 / 6.5)
    assert IMAGENET_MEAN_255 == (123.68, 116.78, 103.94)


def test_unit_conversion_values_and_round_trip() -> None:
    x = torch.full((1, 3, 2, 2), 0.5, dtype=torch.float64)
    mv = to_mv_units(x)
    for k in range(3):
        assert torch.allclose(mv[0, k], torch.full((2, 2), 127.5 - MEAN[k], dtype=torch.float64))
    images = torch.rand(4, 3, 5, 6, dtype=torch.float64)
    torch.testing.assert_close(from_mv_units(to_mv_units(images)), images, rtol=0, atol=1e-14)
    mv_random = torch.randn(2, 3, 4, 4, dtype=torch.float64) * 100
    torch.testing.assert_close(to_mv_units(from_mv_units(mv_random)), mv_random, rtol=0, atol=1e-12)
    # custom and scalar means
    torch.testing.assert_close(to_mv_units(x, mean=(0.0, 0.0, 0.0)), x * 255)
    torch.testing.assert_close(to_mv_units(x, mean=127.5), torch.zeros_like(x))
    # float32 stays float32
    assert to_mv_units(images.float()).dtype == torch.float32


def test_mean_tensor_rejects_wrong_channel_count() -> None:
    with pytest.raises(ValueError, match="channel"):
        mean_tensor((1.0, 2.0), torch.zeros(1, 3, 2, 2))


# ---------------------------------------------------------------------------------- alpha norm


def test_alpha_norm_raw_hand_computed() -> None:
    x = _image(RAW)
    # alpha = 2: 1 + 1 + 4 + 0.25
    assert AlphaNorm(alpha=2, normalize=False)(x).item() == pytest.approx(6.25)
    # alpha = 6: 1 + 1 + 64 + 0.5**6
    assert AlphaNorm(alpha=6, normalize=False)(x).item() == pytest.approx(66.015625)
    # alpha = 3 uses |x|: 1 + 1 + 8 + 0.125
    assert AlphaNorm(alpha=3, normalize=False)(x).item() == pytest.approx(10.125)


def test_alpha_norm_centering_options() -> None:
    x = _image(RAW)
    # per-channel means 0.5, 0, 0.125 -> squared deviations
    ch0 = 0.5**2 + 1.5**2 + 1.5**2 + 0.5**2
    ch2 = 0.375**2 + 3 * 0.125**2
    assert AlphaNorm(alpha=2, normalize=False, center="channel")(x).item() == pytest.approx(ch0 + ch2)
    # whole-image mean 2.5 / 12: sum of squares minus 12 mean^2
    mu = 2.5 / 12
    assert AlphaNorm(alpha=2, normalize=False, center="image")(x).item() == pytest.approx(6.25 - 12 * mu**2)


def test_alpha_norm_mv_units_normalised() -> None:
    x = _library_from_mv(_image(MV))
    expected = ((160 / 80) ** 6 + (80 / 80) ** 6 + (48 / 80) ** 6 + (64 / 80) ** 6) / 4  # H W = 4
    assert AlphaNorm()(x).item() == pytest.approx(expected, rel=1e-10)
    assert expected == pytest.approx(16.3272)
    # the mean image (all zeros in M&V units) has zero energy
    assert AlphaNorm()(_library_from_mv(torch.zeros(1, 3, 2, 2, dtype=torch.float64))).item() == pytest.approx(0.0, abs=1e-20)


# ----------------------------------------------------------------------------- total variation


def test_tv_raw_hand_computed() -> None:
    # channel 0 [[1, 2], [4, 8]]: horizontal differences 1 (row 0), 4 (row 1);
    # vertical differences 3 (column 0), 6 (column 1).
    x = _image([[[1.0, 2.0], [4.0, 8.0]], [[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])
    # replicate: pixel (0,0): 1 + 9, (0,1): 0 + 36, (1,0): 16 + 0, (1,1): 0
    assert TotalVariation(beta=2, normalize=False)(x).item() == pytest.approx(62.0)
    assert TotalVariation(beta=1, normalize=False)(x).item() == pytest.approx(math.sqrt(10) + 6 + 4, rel=1e-6)
    # crop: only pixel (0,0) has both neighbours
    assert TotalVariation(beta=2, normalize=False, boundary="crop")(x).item() == pytest.approx(10.0)
    assert TotalVariation(beta=1, normalize=False, boundary="crop")(x).item() == pytest.approx(math.sqrt(10), rel=1e-6)


def test_tv_sums_channels_outside_the_power() -> None:
    # two channels, each with a single horizontal step of 3 and 4: per-channel roots 3 + 4 = 7
    # (joint colour TV would give 5).
    x = _image([[[0.0, 3.0]], [[0.0, 4.0]], [[0.0, 0.0]]])
    assert TotalVariation(beta=1, normalize=False)(x).item() == pytest.approx(7.0, rel=1e-6)


def test_tv_mv_units_normalised() -> None:
    x = _library_from_mv(_image(MV))
    # channel 0 [[160, 0], [48, 0]]: s = (160² + 112²), 0, 48², 0
    # channel 1 [[0, -80], [64, 0]]: s = (80² + 64²), 80², 64², 0
    s = [160**2 + 112**2, 0, 48**2, 0, 80**2 + 64**2, 80**2, 64**2, 0]
    v = 80 / 6.5
    assert TotalVariation(beta=2)(x).item() == pytest.approx(sum(s) / (4 * v**2), rel=1e-10)
    assert sum(s) / (4 * v**2) == pytest.approx(101.4)
    assert TotalVariation(beta=1)(x).item() == pytest.approx(sum(math.sqrt(t) for t in s) / (4 * v), rel=1e-6)
    crop = (160**2 + 112**2 + 80**2 + 64**2) / (4 * v**2)
    assert TotalVariation(beta=2, boundary="crop")(x).item() == pytest.approx(crop, rel=1e-10)


def test_tv_flat_image_is_zero_with_finite_gradient() -> None:
    for beta in (1.0, 1.5, 2.0):
        x = torch.full((2, 3, 4, 4), 0.3, dtype=torch.float64, requires_grad=True)
        energy = TotalVariation(beta=beta)(x)
        assert torch.allclose(energy, torch.zeros(2, dtype=torch.float64), atol=1e-12)
        (grad,) = torch.autograd.grad(energy.sum(), x)
        assert torch.isfinite(grad).all() and grad.abs().max() < 1e-9


def _matlab_tv(x: np.ndarray, beta: float) -> tuple[float, np.ndarray]:
    """Re-statement of the authors' 2016 ``tv`` layer (value and hand-written gradient) for one
    H×W×C image: forward differences with the last column/row differencing against itself,
    per-channel powers, divided by H·W."""
    h, w = x.shape[:2]
    d1 = x[:, list(range(1, w)) + [w - 1]] - x
    d2 = x[list(range(1, h)) + [h - 1]] - x
    v = (d1**2 + d2**2) ** (beta / 2)
    e = v.sum() / (h * w)
    npow = np.maximum(v, 1e-6) ** (1 - 2 / beta)
    a, b = npow * d1, npow * d2
    da = np.concatenate([-a[:, :1], a[:, :-1] - a[:, 1:]], axis=1)
    db = np.concatenate([-b[:1], b[:-1] - b[1:]], axis=0)
    return e, beta / (h * w) * (da + db)


@pytest.mark.parametrize("beta", [2.0, 1.5])
def test_tv_matches_authors_code(beta: float) -> None:
    torch.manual_seed(0)
    x = torch.rand(1, 3, 5, 7, dtype=torch.float64, requires_grad=True)
    energy = TotalVariation(beta=beta, normalize=False)(x) / (5 * 7)
    (grad,) = torch.autograd.grad(energy.sum(), x)
    e_ref, g_ref = _matlab_tv(x.detach()[0].permute(1, 2, 0).numpy(), beta)
    assert energy.item() == pytest.approx(e_ref, rel=1e-4)
    np.testing.assert_allclose(grad[0].permute(1, 2, 0).numpy(), g_ref, rtol=1e-3, atol=1e-8)


# ------------------------------------------------------------------------------- bounded range


def test_bounded_range_raw_hand_computed() -> None:
    # pixel colour vectors: (1, 0, 0.5), (-1, 0, 0), (2, 0, 0), (0, 0, 0)
    x = _image(RAW)
    expected_2 = 1.25 + 1 + 4 + 0  # alpha = 2: squared norms
    expected_6 = 1.25**3 + 1 + 4**3 + 0  # alpha = 6: squared norms cubed
    assert BoundedRange(alpha=2, normalize=False)(x).item() == pytest.approx(expected_2)
    assert BoundedRange(alpha=6, normalize=False)(x).item() == pytest.approx(expected_6)


def test_bounded_range_mv_units_normalised() -> None:
    x = _library_from_mv(_image(MV))
    # pixel norms 160, 80, 80, 0 -> (norm / 80)^6 = 64, 1, 1, 0 over H W = 4
    assert BoundedRange()(x).item() == pytest.approx(66 / 4, rel=1e-10)
    norms = BoundedRange().pixel_norms(x)
    torch.testing.assert_close(norms[0, 0], torch.tensor([[160.0, 80.0], [80.0, 0.0]], dtype=torch.float64))


def test_bounded_range_matches_authors_code() -> None:
    # authors' 2016 layer: n = Σ_k x², e = Σ n^(α/2) / (H W), de/dx = α / (H W) · x · n^(α/2 − 1)
    torch.manual_seed(6)
    x = torch.randn(1, 3, 5, 7, dtype=torch.float64, requires_grad=True)
    energy = BoundedRange(alpha=6, normalize=False)(x) / (5 * 7)
    (grad,) = torch.autograd.grad(energy.sum(), x)
    n = x.detach().square().sum(1, keepdim=True)
    torch.testing.assert_close(energy, n.pow(3).sum().view(1) / 35)
    torch.testing.assert_close(grad, 6 / 35 * x.detach() * n.pow(2))


def test_projection_bound_unchanged_pixels_and_idempotence() -> None:
    torch.manual_seed(1)
    prior = BoundedRange()
    images = torch.rand(4, 3, 16, 16, dtype=torch.float64) * 6 - 2.5  # up to ~±800 in M&V units
    # some pixels well inside the bound
    images[:, :, :4, :4] = torch.tensor(MEAN, dtype=torch.float64).view(1, 3, 1, 1) / 255 + 0.1 * (
        torch.rand(4, 3, 4, 4, dtype=torch.float64) - 0.5
    )
    before = prior.pixel_norms(images)
    assert (before > B_PLUS).float().mean() > 0.5 and (before <= B_PLUS).any()

    projected = prior.project(images)
    assert projected.shape == images.shape and projected.dtype == images.dtype
    after = prior.pixel_norms(projected)
    assert after.max().item() <= B_PLUS + 1e-6
    inside = (before <= B_PLUS).expand_as(images)
    assert torch.equal(projected[inside], images[inside])  # bit-for-bit
    outside = before[:, 0] > B_PLUS
    torch.testing.assert_close(after[:, 0][outside], torch.full_like(after[:, 0][outside], B_PLUS))
    # radial: the M&V colour vector keeps its direction
    u, w = to_mv_units(images), to_mv_units(projected)
    cosine = torch.nn.functional.cosine_similarity(u, w, dim=1)[outside]
    torch.testing.assert_close(cosine, torch.ones_like(cosine))
    # idempotent
    torch.testing.assert_close(prior.project(projected), projected, rtol=0, atol=1e-12)


def test_projection_float32_bound() -> None:
    torch.manual_seed(2)
    images = torch.rand(2, 3, 32, 32) * 8 - 3.5
    projected = BoundedRange().project(images)
    assert projected.dtype == torch.float32
    assert BoundedRange().pixel_norms(projected).max().item() <= B_PLUS * (1 + 1e-5)


def test_projection_of_valid_images_stays_in_unit_range() -> None:
    torch.manual_seed(3)
    images = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    images[0, :, 0, 0] = 0.0  # black, norm ≈ 199 in M&V units
    images[0, :, 0, 1] = 1.0  # white, norm ≈ 243
    projected = BoundedRange().project(images)
    assert projected.min() >= 0.0 and projected.max() <= 1.0
    m = torch.tensor(MEAN, dtype=torch.float64)
    black = m * (1 - B_PLUS / m.norm()) / 255
    torch.testing.assert_close(projected[0, :, 0, 0], black)
    assert projected[0, :, 0, 0].min() > 0.08  # black is lifted to dark grey


def test_projection_can_leave_unit_range() -> None:
    # a pure-red excursion beyond the cube that is still inside the ball stays outside [0, 1]
    mv = torch.zeros(1, 3, 1, 1, dtype=torch.float64)
    mv[0, 0] = 150.0  # 123.68 + 150 = 273.68 > 255
    x = _library_from_mv(mv)
    assert torch.equal(BoundedRange().project(x), x) and x.max() > 1.0


# ------------------------------------------------------------------------------------ gradients

PRIORS = {
    "alpha6": AlphaNorm(),
    "alpha6_raw": AlphaNorm(normalize=False),
    "alpha6_channel": AlphaNorm(center="channel"),
    "alpha3_image": AlphaNorm(alpha=3, center="image"),
    "tv2": TotalVariation(beta=2),
    "tv2_crop": TotalVariation(beta=2, boundary="crop"),
    "tv1": TotalVariation(beta=1),
    "tv1_raw": TotalVariation(beta=1, normalize=False),
    "tv1_crop": TotalVariation(beta=1, boundary="crop"),
    "bounded6": BoundedRange(),
    "bounded6_raw": BoundedRange(normalize=False),
}


@pytest.mark.parametrize("key", list(PRIORS))
def test_gradcheck(key: str) -> None:
    torch.manual_seed(4)
    x = torch.rand(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(PRIORS[key], (x,), eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("key", list(PRIORS))
def test_images_are_independent(key: str) -> None:
    torch.manual_seed(5)
    prior = PRIORS[key]
    x = torch.rand(3, 3, 6, 6, dtype=torch.float64)
    y = x.clone()
    y[1] = torch.rand(3, 6, 6, dtype=torch.float64) * 2
    ex, ey = prior(x), prior(y)
    assert ex.shape == (3,)
    torch.testing.assert_close(ey[[0, 2]], ex[[0, 2]], rtol=1e-14, atol=0)
    assert ey[1] != ex[1]
    z = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(prior(z)[1], z)
    assert grad[[0, 2]].abs().max() == 0 and grad[1].abs().max() > 0


# ------------------------------------------------------------------------- base class and dtypes


def test_base_class_interface() -> None:
    with pytest.raises(TypeError):
        ImagePrior()  # type: ignore[abstract]

    class Zero(ImagePrior):
        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return images.new_zeros(images.shape[0])

    x = torch.rand(2, 3, 4, 4)
    assert Zero().project(x) is x and Zero().name == "Zero"
    assert TotalVariation().project(x) is x and AlphaNorm().project(x) is x
    assert {p.name for p in (AlphaNorm(), TotalVariation(beta=1), BoundedRange())} == {
        "alpha_norm(alpha=6)",
        "tv(beta=1)",
        "bounded_range(alpha=6, bound=160)",
    }
    assert all(isinstance(p, (ImagePrior, torch.nn.Module)) for p in PRIORS.values())
    assert list(BoundedRange().parameters()) == [] and list(BoundedRange().buffers()) == []


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_dtypes(dtype: torch.dtype) -> None:
    x = torch.rand(2, 3, 8, 8).to(dtype)
    for prior in (AlphaNorm(), TotalVariation(), TotalVariation(beta=1), BoundedRange()):
        energy = prior(x)
        assert energy.shape == (2,) and torch.isfinite(energy).all()
        assert energy.dtype == (torch.float32 if dtype == torch.bfloat16 else dtype)
    assert BoundedRange().project(x).dtype == dtype


def test_input_validation() -> None:
    with pytest.raises(ValueError, match="4-D"):
        AlphaNorm()(torch.rand(3, 4, 4))
    with pytest.raises(TypeError, match="floating"):
        TotalVariation()(torch.zeros(1, 3, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match="channel"):
        BoundedRange()(torch.rand(1, 1, 4, 4))
    assert BoundedRange(mean=0.5 * 255)(torch.rand(1, 1, 4, 4)).shape == (1,)
    with pytest.raises(ValueError):
        TotalVariation(beta=0)
    with pytest.raises(ValueError):
        AlphaNorm(center="pixel")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        BoundedRange(alpha=1.0)
