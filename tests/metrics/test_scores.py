"""Tests for deeprestore.metrics.scores against scikit-image and closed forms."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata
from skimage.filters import gaussian as sk_gaussian
from skimage.metrics import mean_squared_error as sk_mse
from skimage.metrics import peak_signal_noise_ratio as sk_psnr
from skimage.metrics import structural_similarity as sk_ssim

from deeprestore.metrics import feature_error, image_metrics, mse, psnr, ssim

SSIM_TOL = 1e-3  # required agreement with scikit-image
H, W = 96, 128  # non-square on purpose: catches H/W mix-ups


# --------------------------------------------------------------------------- helpers


def _photos() -> np.ndarray:
    """3 real photo_pixels, N×H×W×3 float64 in [0, 1] (skimage layout)."""
    crops = [
        skdata.astronaut()[60 : 60 + H, 160 : 160 + W],  # face: smooth skin + edges
        skdata.chelsea()[80 : 80 + H, 120 : 120 + W],  # cat fur: fine texture
        skdata.coffee()[150 : 150 + H, 200 : 200 + W],  # cup: large smooth areas
    ]
    return np.stack([c.astype(np.float64) / 255.0 for c in crops])


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(np.round(img * 255).astype(np.uint8)).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(buf)).astype(np.float64) / 255.0


def _degrade(imgs: np.ndarray, kind: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    if kind == "noise":
        return np.clip(imgs + rng.normal(0.0, 0.1, imgs.shape), 0.0, 1.0)
    if kind == "mild_noise":
        return np.clip(imgs + rng.normal(0.0, 0.02, imgs.shape), 0.0, 1.0)
    if kind == "blur":
        return np.stack([sk_gaussian(i, sigma=2.0, channel_axis=-1) for i in imgs])
    if kind == "jpeg":
        return np.stack([_jpeg(i, quality=15) for i in imgs])
    if kind == "contrast":  # luminance/contrast change, no structural change
        return 0.7 * imgs + 0.2
    raise ValueError(kind)


def _to_torch(a: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """N×H×W×C numpy -> N×C×H×W tensor."""
    return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).to(dtype)


def _sk_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return sk_ssim(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=-1)


DEGRADATIONS = ["noise", "mild_noise", "blur", "jpeg", "contrast"]


@pytest.fixture(scope="module")
def photo_pixels() -> np.ndarray:
    return _photos()


# --------------------------------------------------------------------------- scikit-image reference


@pytest.mark.parametrize("kind", DEGRADATIONS)
def test_ssim_matches_skimage_per_image(photo_pixels: np.ndarray, kind: str) -> None:
    degraded = _degrade(photo_pixels, kind)
    ref = np.array([_sk_ssim(d, p) for d, p in zip(degraded, photo_pixels)])
    ours = ssim(_to_torch(degraded), _to_torch(photo_pixels)).numpy()
    assert ours.shape == (len(photo_pixels),)
    err = np.abs(ours - ref).max()
    assert err < SSIM_TOL, f"{kind}: max |ssim - skimage| = {err:.2e} (ours {ours}, skimage {ref})"
    # The degradations must actually span a range of qualities for the test to mean something.
    assert ref.min() < 0.97


def test_ssim_float64_matches_skimage_to_rounding(photo_pixels: np.ndarray) -> None:
    """In float64 the only difference left is rounding: same window, same border crop."""
    degraded = _degrade(photo_pixels, "blur")
    ref = np.array([_sk_ssim(d, p) for d, p in zip(degraded, photo_pixels)])
    ours = ssim(_to_torch(degraded, torch.float64), _to_torch(photo_pixels, torch.float64))
    assert ours.dtype == torch.float64
    np.testing.assert_allclose(ours.numpy(), ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("kind", ["noise", "blur", "jpeg"])
def test_psnr_and_mse_match_skimage(photo_pixels: np.ndarray, kind: str) -> None:
    degraded = _degrade(photo_pixels, kind)
    x, y = _to_torch(degraded), _to_torch(photo_pixels)
    ref_mse = np.array([sk_mse(p, d) for d, p in zip(degraded, photo_pixels)])
    ref_psnr = np.array([sk_psnr(p, d, data_range=1) for d, p in zip(degraded, photo_pixels)])
    np.testing.assert_allclose(mse(x, y).numpy(), ref_mse, rtol=1e-5)
    np.testing.assert_allclose(psnr(x, y).numpy(), ref_psnr, rtol=0, atol=1e-4)


def test_image_metrics_equals_individual_functions(photo_pixels: np.ndarray) -> None:
    x, y = _to_torch(_degrade(photo_pixels, "jpeg")), _to_torch(photo_pixels)
    out = image_metrics(x, y)
    assert set(out) == {"mse", "psnr", "ssim"}
    torch.testing.assert_close(out["mse"], mse(x, y))
    torch.testing.assert_close(out["psnr"], psnr(x, y))
    torch.testing.assert_close(out["ssim"], ssim(x, y))


def test_batch_elements_are_independent(photo_pixels: np.ndarray) -> None:
    x, y = _to_torch(_degrade(photo_pixels, "noise")), _to_torch(photo_pixels)
    batched = image_metrics(x, y)
    for i in range(len(photo_pixels)):
        single = image_metrics(x[i : i + 1], y[i : i + 1])
        for k in batched:
            torch.testing.assert_close(batched[k][i : i + 1], single[k])


# --------------------------------------------------------------------------- closed forms / edge cases


def test_identical_images(photo_pixels: np.ndarray) -> None:
    y = _to_torch(photo_pixels)
    out = image_metrics(y.clone(), y)
    torch.testing.assert_close(out["ssim"], torch.ones(3), atol=1e-6, rtol=0)
    assert torch.equal(out["mse"], torch.zeros(3))
    assert torch.isinf(out["psnr"]).all() and (out["psnr"] > 0).all()  # documented: +inf like skimage


def test_psnr_closed_form_and_data_range() -> None:
    y = torch.full((2, 3, 16, 16), 0.5)
    x = y.clone()
    x[0] += 0.1  # MSE 0.01 -> 20 dB
    x[1] -= 0.01  # MSE 1e-4 -> 40 dB
    torch.testing.assert_close(psnr(x, y), torch.tensor([20.0, 40.0]), atol=1e-3, rtol=0)
    torch.testing.assert_close(psnr(255 * x, 255 * y, data_range=255.0), psnr(x, y), atol=1e-3, rtol=0)
    # float32 variances E[x^2] - E[x]^2 lose ~4 digits at the 0..255 scale, hence the looser atol
    torch.testing.assert_close(ssim(255 * x, 255 * y, data_range=255.0), ssim(x, y), atol=1e-3, rtol=0)


def test_out_of_range_values_are_clamped() -> None:
    g = torch.Generator().manual_seed(0)
    y = torch.rand(2, 3, 24, 24, generator=g)
    x = y + 0.3 * torch.randn(2, 3, 24, 24, generator=g)  # plenty of values < 0 and > 1 (within [-1, 2])
    assert x.min() < 0 and x.max() > 1
    for f in (mse, psnr, ssim):
        torch.testing.assert_close(f(x, y), f(x.clamp(0, 1), y))


def test_bf16_and_autocast_compute_in_float32(photo_pixels: np.ndarray) -> None:
    x, y = _to_torch(_degrade(photo_pixels, "noise")), _to_torch(photo_pixels)
    xb, yb = x.bfloat16(), y.bfloat16()
    expected = image_metrics(xb.float(), yb.float())  # float32 maths on the bf16-rounded images
    got = image_metrics(xb, yb)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got_autocast = image_metrics(x, y)
    expected_fp32 = image_metrics(x, y)
    for k in expected:
        assert got[k].dtype == torch.float32 and got_autocast[k].dtype == torch.float32
        torch.testing.assert_close(got[k], expected[k])
        torch.testing.assert_close(got_autocast[k], expected_fp32[k])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(photo_pixels: np.ndarray) -> None:
    x, y = _to_torch(_degrade(photo_pixels, "blur")), _to_torch(photo_pixels)
    cpu = image_metrics(x, y)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        gpu = image_metrics(x.cuda(), y.cuda())
    for k in cpu:
        assert gpu[k].device.type == "cuda"
        torch.testing.assert_close(gpu[k].cpu(), cpu[k], atol=1e-5, rtol=1e-5)
    f = torch.randn(4, 8, 5, 5)
    torch.testing.assert_close(feature_error(2 * f.cuda(), f.cuda()).cpu(), torch.ones(4))


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("fn", [mse, psnr, ssim, image_metrics])
def test_validation_errors(fn) -> None:  # noqa: ANN001
    ok = torch.rand(2, 3, 16, 16)
    with pytest.raises(ValueError, match="same shape"):
        fn(ok, torch.rand(2, 3, 16, 17))
    with pytest.raises(ValueError, match="4-D"):
        fn(ok[0], ok[0])
    with pytest.raises(ValueError, match="4-D"):
        fn(ok[None], ok[None])
    bad = ok.clone()
    bad[1, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        fn(bad, ok)
    bad[1, 0, 3, 3] = float("inf")
    with pytest.raises(ValueError, match="y contains .* non-finite"):
        fn(ok, bad)
    with pytest.raises(ValueError, match="float tensor .*dtype torch.uint8.*/ 255"):
        fn((ok * 255).to(torch.uint8), (ok * 255).to(torch.uint8))
    with pytest.raises(TypeError, match="torch.Tensor"):
        fn(ok.numpy(), ok)
    with pytest.raises(ValueError, match="empty batch"):
        fn(ok[:0], ok[:0])


@pytest.mark.parametrize("fn", [mse, psnr, ssim, image_metrics])
def test_images_on_another_scale_are_refused_not_scored(fn) -> None:  # noqa: ANN001
    """0–255 or [−1, 1] images would give plausible numbers after clamping; they are refused with a hint."""
    ok = torch.rand(2, 3, 16, 16)
    with pytest.raises(ValueError, match=r"y must have values in \[0, 1\].*0–255 scale: divide by 255"):
        fn(255 * ok, 255 * ok)
    with pytest.raises(ValueError, match=r"y must have values in \[0, 1\].*\[−1, 1\] scale"):
        fn(ok, 2 * ok - 1)
    with pytest.raises(ValueError, match=r"x must have values in \[-1, 2\]"):
        fn(255 * ok, ok)  # a reconstruction may overshoot [0, 1] (it is clamped), not by a factor 255
    tiny = ok.clone()
    tiny[0, 0, 0, 0] = 1.0 + 0.5 / 255  # rounding above 1 by less than a quarter level is accepted …
    fn(ok, tiny.clamp(max=1 + 0.2 / 255))
    with pytest.raises(ValueError, match="values in"):  # … more is not
        fn(ok, tiny)


def test_ssim_rejects_images_smaller_than_window_and_bad_data_range() -> None:
    small = torch.rand(1, 3, 10, 32)
    with pytest.raises(ValueError, match="at least 11"):
        ssim(small, small)
    ok = torch.rand(1, 3, 16, 16)
    for bad in (0.0, -1.0, math.inf):
        with pytest.raises(ValueError, match="data_range"):
            psnr(ok, ok, data_range=bad)
        with pytest.raises(ValueError, match="data_range"):
            ssim(ok, ok, data_range=bad)


# --------------------------------------------------------------------------- feature_error


@pytest.mark.parametrize("shape", [(4,), (4, 7), (4, 8, 5, 3)])
def test_feature_error_closed_forms(shape: tuple[int, ...]) -> None:
    target = torch.randn(shape, generator=torch.Generator().manual_seed(1)) + 0.1
    ones = torch.ones(shape[0])
    torch.testing.assert_close(feature_error(2 * target, target), ones)
    torch.testing.assert_close(feature_error(torch.zeros(shape), target), ones)
    torch.testing.assert_close(feature_error(target.clone(), target), torch.zeros(shape[0]))
    torch.testing.assert_close(feature_error(-target, target), 2 * ones)
    torch.testing.assert_close(feature_error(1.25 * target, target), 0.25 * ones)


def test_feature_error_known_value_and_batch_independence() -> None:
    target = torch.tensor([[3.0, 4.0], [1.0, 0.0]])  # norms 5 and 1
    features = torch.tensor([[3.0, 4.0 + 2.5], [1.0, 0.0]])
    torch.testing.assert_close(feature_error(features, target), torch.tensor([0.5, 0.0]))
    # changing one sample leaves the others untouched
    g = torch.Generator().manual_seed(2)
    t = torch.randn(5, 3, 4, 4, generator=g)
    f = torch.randn(5, 3, 4, 4, generator=g)
    base = feature_error(f, t)
    f2 = f.clone()
    f2[2] *= 10
    changed = feature_error(f2, t)
    keep = torch.tensor([0, 1, 3, 4])
    torch.testing.assert_close(changed[keep], base[keep])
    assert not torch.isclose(changed[2], base[2])


def test_feature_error_dtypes_and_gradient() -> None:
    t = torch.randn(3, 16)
    f = (t + 0.1 * torch.randn(3, 16)).requires_grad_()
    err = feature_error(f, t)
    err.sum().backward()
    assert err.shape == (3,) and torch.isfinite(f.grad).all()
    # perfect match: gradient of the norm at 0 must not be NaN
    f0 = t.clone().requires_grad_()
    feature_error(f0, t).sum().backward()
    assert torch.isfinite(f0.grad).all()
    assert feature_error(f.detach().bfloat16(), t.bfloat16()).dtype == torch.float32
    assert feature_error(f.detach().double(), t.double()).dtype == torch.float64


def test_feature_error_validation() -> None:
    t = torch.randn(3, 4)
    t[1] = 0.0
    with pytest.raises(ValueError, match=r"zero norm for sample\(s\) \[1\]"):
        feature_error(torch.randn(3, 4), t)
    with pytest.raises(ValueError, match="same shape"):
        feature_error(torch.randn(3, 4), torch.randn(3, 5))
    with pytest.raises(ValueError, match="batch dimension"):
        feature_error(torch.tensor(1.0), torch.tensor(1.0))
    bad = torch.randn(3, 4)
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="features contains .* non-finite"):
        feature_error(bad, torch.randn(3, 4))
    with pytest.raises(TypeError, match="floating-point"):
        feature_error(torch.ones(3, 4, dtype=torch.long), torch.ones(3, 4, dtype=torch.long))
