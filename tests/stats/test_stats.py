"""deeprestore.stats: feature-map statistics (Harder 2017, §4.1, figure 4) against known answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from deeprestore.stats import (
    LayerStatistics,
    RandomCrops,
    StreamingCovariance,
    StreamingGram,
    StreamingSparsity,
    batched,
    channel_samples,
    covariance,
    file_sources,
    gaussian_hoyer,
    gram_matrices,
    hoyer_sparsity,
    interior_positions,
    regularized_inverse,
    spatial_samples,
    stationarity_summary,
    toeplitz_deviation_map,
    toeplitz_distance,
    toeplitz_projection,
)
from deeprestore.stats.command import main


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def stationary_kernel(h: int, w: int, length: float = 1.5) -> torch.Tensor:
    """``exp(-|p − q|²/ℓ²)`` over an ``h×w`` grid: the covariance of a stationary field."""
    i = torch.arange(h, dtype=torch.float64).repeat_interleave(w)
    j = torch.arange(w, dtype=torch.float64).repeat(h)
    d2 = (i[:, None] - i[None, :]) ** 2 + (j[:, None] - j[None, :]) ** 2
    return torch.exp(-d2 / length**2)


# -- covariance ---------------------------------------------------------------------------------
def test_covariance_matches_numpy_cov() -> None:
    x = torch.randn(50, 1, 7, generator=_generator(), dtype=torch.float64) * 3 + 2
    ref = np.cov(x[:, 0].numpy(), rowvar=False)
    np.testing.assert_allclose(covariance(x).numpy(), ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(covariance(x, ddof=0).numpy(), np.cov(x[:, 0].numpy(), rowvar=False, bias=True), rtol=1e-12)


def test_grouped_covariance_is_the_mean_of_per_group_covariances() -> None:
    x = torch.randn(30, 4, 5, generator=_generator(1), dtype=torch.float64)
    x = x + torch.arange(4, dtype=torch.float64)[None, :, None] * 10  # each group its own mean
    ref = np.mean([np.cov(x[:, g].numpy(), rowvar=False) for g in range(4)], axis=0)
    np.testing.assert_allclose(covariance(x).numpy(), ref, rtol=1e-12, atol=1e-12)


def test_streaming_equals_one_shot_even_with_a_large_offset() -> None:
    x = torch.randn(41, 3, 6, generator=_generator(2), dtype=torch.float64) + 1e4
    acc = StreamingCovariance(6, groups=3)
    for chunk in torch.split(x, [1, 7, 13, 20]):
        acc.update(chunk)
    assert acc.count == 41
    np.testing.assert_allclose(acc.mean.numpy(), x.mean(0).numpy(), rtol=1e-14)
    ref = np.mean([np.cov(x[:, g].numpy() - 1e4, rowvar=False) for g in range(3)], axis=0)
    np.testing.assert_allclose(acc.covariance().numpy(), ref, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(acc.covariance().numpy(), covariance(x).numpy(), rtol=1e-9, atol=1e-11)
    low = StreamingCovariance(6, groups=3)
    low.update(x[:20].float() - 1e4)  # float32 batches are accumulated in float64
    assert low.covariance().dtype == torch.float64


def test_spatial_and_channel_samples_give_the_documented_covariances() -> None:
    f = torch.randn(9, 3, 2, 4, generator=_generator(3), dtype=torch.float64)
    spatial = covariance(spatial_samples(f))
    ref = np.mean([np.cov(f[:, c].reshape(9, 8).numpy(), rowvar=False) for c in range(3)], axis=0)
    np.testing.assert_allclose(spatial.numpy(), ref, rtol=1e-12, atol=1e-12)
    channel = covariance(channel_samples(f))
    ref = np.cov(f.permute(0, 2, 3, 1).reshape(-1, 3).numpy(), rowvar=False)
    np.testing.assert_allclose(channel.numpy(), ref, rtol=1e-12, atol=1e-12)


def test_covariance_errors() -> None:
    acc = StreamingCovariance(3, groups=2)
    with pytest.raises(ValueError, match="N×2×3"):
        acc.update(torch.zeros(4, 3, 3))
    acc.update(torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="more than 1"):
        acc.covariance()


def test_inverse_times_covariance_is_identity() -> None:
    a = torch.randn(200, 1, 10, generator=_generator(4), dtype=torch.float64)
    cov = covariance(a)
    inv = regularized_inverse(cov, rel_eps=0.0)
    np.testing.assert_allclose((inv @ cov).numpy(), np.eye(10), atol=1e-10)
    np.testing.assert_allclose(inv.numpy(), np.linalg.inv(cov.numpy()), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose((regularized_inverse(cov, 1e-9) @ cov).numpy(), np.eye(10), atol=1e-7)


def test_ridge_is_relative_to_the_mean_eigenvalue() -> None:
    # diag(1, 3): mean eigenvalue 2, rel_eps 0.5 → ridge 1 → inverse diag(1/2, 1/4)
    inv = regularized_inverse(torch.diag(torch.tensor([1.0, 3.0], dtype=torch.float64)), rel_eps=0.5)
    np.testing.assert_allclose(inv.numpy(), np.diag([0.5, 0.25]), atol=1e-14)
    with pytest.raises(ValueError, match="cannot invert"):
        regularized_inverse(torch.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=torch.float64), rel_eps=0.0)


# -- stationarity -------------------------------------------------------------------------------
def test_stationary_kernel_is_toeplitz() -> None:
    k = stationary_kernel(6, 5)
    for border in (0, 1, 2):
        assert toeplitz_distance(k, 6, 5, border=border) < 1e-12
    assert float(toeplitz_deviation_map(k, 6, 5).abs().max()) < 1e-12
    np.testing.assert_allclose(toeplitz_projection(k, 6, 5).numpy(), k.numpy(), atol=1e-15)


def test_projection_is_orthogonal_idempotent_and_keeps_symmetry() -> None:
    m = torch.randn(20, 20, generator=_generator(5), dtype=torch.float64)
    t = toeplitz_projection(m, 4, 5)
    np.testing.assert_allclose(toeplitz_projection(t, 4, 5).numpy(), t.numpy(), atol=1e-14)
    assert abs(float(((m - t) * t).sum())) < 1e-10  # residual ⟂ the stationary subspace
    s = m + m.T
    ts = toeplitz_projection(s, 4, 5)
    np.testing.assert_allclose(ts.numpy(), ts.T.numpy(), atol=1e-14)


def test_closed_form_small_grids() -> None:
    # 1×2 grid: T averages the diagonal; distance = |a − d| / √2 / ‖M‖
    m = torch.tensor([[3.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    np.testing.assert_allclose(toeplitz_projection(m, 1, 2).numpy(), [[2.0, 1.0], [1.0, 2.0]])
    assert toeplitz_distance(m, 1, 2) == pytest.approx(1 / math.sqrt(6), rel=1e-12)
    # 2×2 grid, diag(1, 2, 3, 4): T = 2.5·I, distance = √5 / √30
    d = torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64))
    np.testing.assert_allclose(toeplitz_projection(d, 2, 2).numpy(), 2.5 * np.eye(4))
    assert toeplitz_distance(d, 2, 2) == pytest.approx(math.sqrt(5 / 30), rel=1e-12)
    assert toeplitz_distance(torch.zeros(4, 4, dtype=torch.float64), 2, 2) == 0.0


def test_unstructured_matrices_are_far_from_toeplitz() -> None:
    h = w = 8
    # i.i.d. entries: E‖M − T(M)‖² / E‖M‖² = 1 − K/D² with K = (2h−1)(2w−1) displacements
    noise = torch.randn(h * w, h * w, generator=_generator(6), dtype=torch.float64)
    expected = math.sqrt(1 - (2 * h - 1) * (2 * w - 1) / (h * w) ** 2)
    assert toeplitz_distance(noise, h, w) == pytest.approx(expected, abs=0.02)
    a = torch.randn(h * w, h * w, generator=_generator(7), dtype=torch.float64)
    spd = a @ a.T / (h * w)
    assert toeplitz_distance(spd, h, w) > 0.5
    # a stationary covariance with its positions shuffled is no longer stationary
    perm = torch.randperm(h * w, generator=_generator(8))
    k = stationary_kernel(h, w)
    assert toeplitz_distance(k[perm][:, perm], h, w) > 0.3


def test_border_effects_show_in_total_but_not_interior() -> None:
    h, w = 7, 6
    scale = torch.ones(h, w, dtype=torch.float64)
    scale[0, :] = scale[-1, :] = scale[:, 0] = scale[:, -1] = 2.0  # border positions twice the amplitude
    s = scale.flatten()
    m = s[:, None] * stationary_kernel(h, w) * s[None, :]
    assert toeplitz_distance(m, h, w) > 0.05
    assert toeplitz_distance(m, h, w, border=1) < 1e-12
    dev = toeplitz_deviation_map(m, h, w, fit_border=1)  # stationary part fitted to the interior
    assert dev.shape == (h, w)
    ring = torch.ones(h, w, dtype=torch.bool)
    ring[1:-1, 1:-1] = False
    assert float(dev[ring].min()) > 1.5 * float(dev[~ring].max())
    assert float(dev[2:-2, 2:-2].max()) < float(dev[1:-1, 1:-1].max())  # rows far from the ring deviate least
    fit, k = toeplitz_projection(m, h, w, fit_border=1), stationary_kernel(h, w)
    # the interior fit recovers the kernel at every displacement an interior pair has, border rows included
    np.testing.assert_allclose(fit[0, : w - 2].numpy(), k[0, : w - 2].numpy(), atol=1e-14)
    keep = interior_positions(h, w, 1)
    np.testing.assert_allclose(fit[keep][:, keep].numpy(), k[keep][:, keep].numpy(), atol=1e-14)
    summary = stationarity_summary(m, h, w, border=1)
    assert summary["total"] == summary["by_border"]["0"] > summary["interior"] == summary["by_border"]["1"]
    assert set(summary["by_border"]) == {"0", "1", "2"}  # interior ≥ 2×2
    assert summary["permuted_reference"] > summary["total"]


def test_inverse_of_a_stationary_covariance_has_border_effects_only() -> None:
    # on a finite grid the precision of a stationary field is not Toeplitz: border positions have
    # fewer neighbours to condition on (the thesis's "border effects ... especially in the inverse")
    k = stationary_kernel(6, 6) + 0.1 * torch.eye(36, dtype=torch.float64)
    inverse = torch.linalg.inv(k)
    assert toeplitz_distance(inverse, 6, 6) > 0.1
    assert toeplitz_distance(inverse, 6, 6, border=2) < 1e-3


def test_split_half_noise_explains_the_distance_of_a_sampled_stationary_field() -> None:
    h = w = 6
    k = stationary_kernel(h, w) + 0.1 * torch.eye(36, dtype=torch.float64)
    z = torch.randn(400, 4, 36, generator=_generator(12), dtype=torch.float64)
    x = (z @ torch.linalg.cholesky(k).T).reshape(400, 4, h, w)
    stats = LayerStatistics("field", (4, h, w))
    for chunk in torch.split(x, 7):
        stats.update(chunk)
    d = stats.result(rel_eps=0.0).summary["toeplitz_distance"]
    cov, inv = d["covariance"], d["inverse_covariance"]
    assert cov["total"] > 0.05  # sampling noise alone puts the estimate off Toeplitz …
    assert cov["split_half_noise"]["total"] == pytest.approx(cov["total"], rel=0.3)  # … and the split half sees it
    assert cov["noise_corrected"]["total"] < 0.05
    true_inverse = toeplitz_distance(torch.linalg.inv(k), h, w)  # 0.152: border effects of the precision
    assert inv["noise_corrected"]["total"] == pytest.approx(true_inverse, abs=0.03)


def test_interior_positions() -> None:
    assert interior_positions(4, 5, 1).tolist() == [6, 7, 8, 11, 12, 13]
    assert interior_positions(3, 3, 0).tolist() == list(range(9))
    with pytest.raises(ValueError, match="no interior"):
        interior_positions(4, 5, 2)
    with pytest.raises(ValueError, match="16×16"):
        toeplitz_distance(torch.zeros(10, 10), 4, 4)


# -- Gram ---------------------------------------------------------------------------------------
def test_gram_matrices_closed_form_and_einsum() -> None:
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 0.0]]]])  # 1×2×1×2
    np.testing.assert_allclose(gram_matrices(f)[0].numpy(), [[2.5, 1.5], [1.5, 4.5]])
    x = torch.randn(5, 4, 3, 6, generator=_generator(9), dtype=torch.float64)
    ref = torch.einsum("nchw,ndhw->ncd", x, x) / 18
    np.testing.assert_allclose(gram_matrices(x).numpy(), ref.numpy(), rtol=1e-12)
    acc = StreamingGram(4)
    acc.update(x[:2])
    acc.update(x[2:])
    np.testing.assert_allclose(acc.mean().numpy(), ref.mean(0).numpy(), rtol=1e-12)
    spread = torch.sqrt(((ref - ref.mean(0)) ** 2).sum((1, 2)).mean()) / torch.linalg.matrix_norm(ref.mean(0))
    assert acc.relative_spread() == pytest.approx(float(spread), rel=1e-9)
    same = StreamingGram(4)
    same.update(x[:1].repeat(3, 1, 1, 1))
    assert same.relative_spread() == pytest.approx(0.0, abs=1e-7)


# -- sparsity -----------------------------------------------------------------------------------
def test_hoyer_sparsity_known_values() -> None:
    one_hot = torch.zeros(10)
    one_hot[3] = 5.0
    assert float(hoyer_sparsity(one_hot)) == pytest.approx(1.0)
    assert float(hoyer_sparsity(torch.full((10,), 0.3))) == pytest.approx(0.0, abs=1e-6)
    assert float(hoyer_sparsity(torch.tensor([1.0, 1.0, 0.0, 0.0]))) == pytest.approx(2 - math.sqrt(2))
    assert float(hoyer_sparsity(torch.tensor([-2.0, 0.0, 0.0]))) == pytest.approx(1.0)
    assert math.isnan(float(hoyer_sparsity(torch.zeros(4))))
    x = torch.rand(3, 8, generator=_generator(10))
    np.testing.assert_allclose(hoyer_sparsity(7 * x, dim=1).numpy(), hoyer_sparsity(x, dim=1).numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="at least 2"):
        hoyer_sparsity(torch.ones(1))
    gauss = torch.randn(200_000, generator=_generator(13), dtype=torch.float64)
    assert float(hoyer_sparsity(gauss)) == pytest.approx(gaussian_hoyer(200_000), abs=0.003)
    assert gaussian_hoyer(10**8) == pytest.approx(1 - math.sqrt(2 / math.pi), abs=1e-4)


def test_streaming_sparsity() -> None:
    f = torch.zeros(4, 2, 2, 2)
    f[:, 0, 0, 0] = 1.0  # channel 0: one-hot maps, 3 of 4 entries zero
    f[:2, 1] = 0.5  # channel 1: constant in images 0, 1; dead in images 2, 3
    acc = StreamingSparsity(2)
    acc.update(f[:1])
    acc.update(f[1:])
    s = acc.summary()
    np.testing.assert_allclose(s.zero_fraction.numpy(), [0.75, 0.5])
    np.testing.assert_allclose(s.mean_activation.numpy(), [0.25, 0.25])
    np.testing.assert_allclose(s.dead_fraction.numpy(), [0.0, 0.5])
    np.testing.assert_allclose(s.channel_hoyer().numpy(), [1.0, 0.0], atol=1e-7)
    assert torch.isnan(s.map_hoyer[2:, 1]).all() and s.map_hoyer.shape == (4, 2)
    d = s.as_dict()
    assert d["zero_fraction"] == pytest.approx(0.625) and d["dead_map_fraction"] == pytest.approx(0.25)
    json.dumps(d, allow_nan=False)
    tolerant = StreamingSparsity(2, tol=0.6)
    tolerant.update(f)
    assert tolerant.summary().zero_fraction.tolist() == [0.75, 1.0]


def test_layer_statistics_summary() -> None:
    f = torch.randn(12, 5, 4, 4, generator=_generator(11))
    stats = LayerStatistics("x", (5, 4, 4))
    stats.update(f[:5])
    stats.update(f[5:])
    r = stats.result(rel_eps=1e-6)
    np.testing.assert_allclose(r.spatial_covariance.numpy(), covariance(spatial_samples(f.double())).numpy(), rtol=1e-10)
    assert r.summary["images"] == 12 and r.summary["spatial_covariance"]["degrees_of_freedom"] == 55
    assert set(r.summary) >= {"layer", "shape", "toeplitz_distance", "channel_covariance", "gram", "sparsity"}
    with pytest.raises(ValueError, match="N×5×4×4"):
        stats.update(torch.zeros(1, 5, 3, 4))


# -- images -------------------------------------------------------------------------------------
def _write_photo(path, size=(40, 30), seed=0) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)


def test_random_crops_are_seeded_and_skip_bad_files(tmp_path, caplog) -> None:
    _write_photo(tmp_path / "a.png", seed=1)
    _write_photo(tmp_path / "b.png", seed=2)
    _write_photo(tmp_path / "small.png", size=(8, 8))
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    crops = RandomCrops(file_sources([tmp_path]), count=5, crop_size=16, resize=0, seed=3)
    first = torch.stack(list(crops))
    assert first.shape == (5, 3, 16, 16) and 0 <= float(first.min()) and float(first.max()) <= 1
    assert sorted(n.split("/")[-1] for n, _ in crops.skipped) == ["broken.jpg", "small.png"]
    assert sorted(n.split("/")[-1] for n in crops.used) == ["a.png", "b.png"]
    assert "broken.jpg" in caplog.text
    assert torch.equal(torch.stack(list(crops)), first)  # same seed, same crops
    assert [b.shape[0] for b in batched(iter(first), 2)] == [2, 2, 1]
    (tmp_path / "a.png").unlink()
    (tmp_path / "b.png").unlink()
    with pytest.raises(ValueError, match="empty"):
        list(RandomCrops(file_sources([tmp_path]), count=2, crop_size=16, resize=0))
    with pytest.raises(ValueError, match="empty"):
        RandomCrops([], count=2, crop_size=16)


# -- the command --------------------------------------------------------------------------------
def test_command_end_to_end(tmp_path) -> None:
    out = tmp_path / "stats"
    run = main(
        [
            "--net",
            "efficientnet_lite0",
            "--layers",
            "block4",
            "--images",
            "4",
            "--crop_size",
            "64",
            "--batch_size",
            "3",
            "--seed",
            "0",
            "--out",
            str(out),
            "--progress",
            "false",
            "--dpi",
            "40",
        ]
    )
    names = {p.name for p in out.iterdir()}
    assert names == {
        "config.yaml",
        "stats_block4.json",
        "stats_block4.npz",
        "covariance_block4.png",
        "gram_block4.png",
        "sparsity_block4.png",
        "stationarity.png",
    }
    stats = json.loads((out / "stats_block4.json").read_text())
    assert stats["shape"] == {"channels": 40, "height": 8, "width": 8} and stats["images"] == 4
    for key in ("covariance", "inverse_covariance"):
        d = stats["toeplitz_distance"][key]
        assert set(d) == {"total", "interior", "border", "by_border", "permuted_reference", "split_half_noise", "noise_corrected"}
        assert 0 <= d["interior"] <= 1 and 0 <= d["total"] <= 1
    assert set(stats["sparsity"]) >= {"zero_fraction", "map_hoyer_mean", "image_hoyer_mean", "per_channel"}
    assert stats["image_set"]["crops"] == 4 and stats["image_set"]["skipped"] == []
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["layers"] == ["block4"] and config["images"] == 4 and config["resize"] == 128
    arrays = np.load(out / "stats_block4.npz")
    assert arrays["spatial_covariance"].shape == (64, 64) and arrays["gram"].shape == (40, 40)
    assert run.results["block4"].images == 4
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_command_errors(tmp_path) -> None:
    with pytest.raises(ValueError, match="valid layers"):
        main(["--layers", "block99", "--images", "2", "--out", str(tmp_path / "x"), "--progress", "false"])
    with pytest.raises(ValueError, match="vector"):
        main(["--layers", "pool", "--images", "2", "--out", str(tmp_path / "x"), "--progress", "false"])
    (tmp_path / "bad.png").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="empty"):
        main(
            [
                "--layers",
                "block8",
                "--images",
                "2",
                "--crop_size",
                "32",
                "--image_paths",
                str(tmp_path),
                "--out",
                str(tmp_path / "y"),
                "--progress",
                "false",
            ]
        )
    assert not (tmp_path / "y").exists()
    with pytest.raises(FileNotFoundError):
        main(["--layers", "block8", "--image_paths", str(tmp_path / "missing"), "--out", str(tmp_path / "z")])
