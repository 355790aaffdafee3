"""Tests for difference images, comparison grids and atomic PNG/figure export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from deeprestore.atomic_io import atomic_write
from deeprestore.metrics import (
    PANELS,
    absolute_difference_image,
    comparison_figure,
    comparison_grid,
    save_figure,
    save_png,
    signed_difference_image,
)

R, G, B = 0, 1, 2


def _images(n: int = 2, h: int = 12, w: int = 16, seed: int = 0) -> torch.Tensor:
    # keep values inside [0.2, 0.8] so that +-0.1 errors are not clamped away
    return 0.2 + 0.6 * torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- signed difference


def test_signed_difference_zero_error_is_uniform_grey() -> None:
    x = _images()
    out = signed_difference_image(x, x.clone())
    assert out.shape == x.shape
    assert torch.equal(out, torch.full_like(x, 0.5))  # exact grey, no NaN


def test_signed_difference_pure_red_error() -> None:
    orig = _images(n=1)
    rec = orig.clone()
    rec[0, R, 2:5, 3:7] += 0.1  # reconstruction too red in a patch
    rec[0, R, 8, 8] += 0.05
    out = signed_difference_image(orig, rec)
    red, green, blue = out[0, R], out[0, G], out[0, B]
    assert (red[2:5, 3:7] > 0.5).all()
    torch.testing.assert_close(red[2:5, 3:7], torch.ones(3, 4))  # the max error maps to 1
    torch.testing.assert_close(red[8, 8], torch.tensor(0.75))  # half the max error -> 0.5 + 0.25
    mask = torch.ones_like(red, dtype=torch.bool)
    mask[2:5, 3:7] = False
    mask[8, 8] = False
    assert torch.equal(red[mask], torch.full_like(red[mask], 0.5))
    assert torch.equal(green, torch.full_like(green, 0.5))
    assert torch.equal(blue, torch.full_like(blue, 0.5))


def test_signed_difference_sign_and_range() -> None:
    orig = _images(n=1)
    rec = orig.clone()
    rec[0, B, 0, 0] -= 0.2  # too little blue: darkest blue
    rec[0, G, 1, 1] += 0.1  # too much green: half-way up
    out = signed_difference_image(orig, rec)
    assert torch.isclose(out[0, B, 0, 0], torch.tensor(0.0), atol=1e-6)
    assert torch.isclose(out[0, G, 1, 1], torch.tensor(0.75), atol=1e-6)
    assert out.min() >= 0 and out.max() <= 1


def test_difference_images_are_normalised_per_image() -> None:
    orig = _images(n=2)
    rec = orig.clone()
    rec[0, R] += 0.01  # tiny error in image 0
    rec[1, R] += 0.2  # large error in image 1
    signed = signed_difference_image(orig, rec)
    absolute = absolute_difference_image(orig, rec)
    for i in range(2):  # each image uses its full range
        torch.testing.assert_close(signed[i, R].max(), torch.tensor(1.0))
        torch.testing.assert_close(absolute[i].max(), torch.tensor(1.0))


# --------------------------------------------------------------------------- absolute difference


def test_absolute_difference_black_where_equal_and_one_at_max() -> None:
    orig = _images(n=1)
    rec = orig.clone()
    rec[0, R, 4, 4] += 0.2
    rec[0, B, 5, 5] -= 0.1  # negative errors count as positive
    out = absolute_difference_image(orig, rec)
    assert out.shape == orig.shape
    torch.testing.assert_close(out[0, R, 4, 4], torch.tensor(1.0))
    torch.testing.assert_close(out[0, B, 5, 5], torch.tensor(0.5))
    mask = torch.ones_like(out, dtype=torch.bool)
    mask[0, R, 4, 4] = False
    mask[0, B, 5, 5] = False
    assert (out[mask] == 0).all()


def test_absolute_difference_zero_error_is_black_not_nan() -> None:
    x = _images()
    assert torch.equal(absolute_difference_image(x, x.clone()), torch.zeros_like(x))


def test_difference_images_clamp_inputs() -> None:
    orig = torch.ones(1, 3, 4, 4)
    rec = orig.clone()
    rec[0, R] = 1.7  # above the displayable range: same as 1 once clamped -> no error
    assert torch.equal(signed_difference_image(orig, rec), torch.full_like(orig, 0.5))
    assert torch.equal(absolute_difference_image(orig, rec), torch.zeros_like(orig))


def test_difference_image_validation() -> None:
    x = _images()
    with pytest.raises(ValueError, match="same shape"):
        signed_difference_image(x, x[:, :, :-1])
    with pytest.raises(ValueError, match="4-D"):
        absolute_difference_image(x[0], x[0])
    bad = x.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="reconstruction contains .* non-finite"):
        signed_difference_image(x, bad)


# --------------------------------------------------------------------------- grid


@pytest.mark.parametrize("n", [1, 3])
def test_comparison_grid_shape_and_panels(n: int) -> None:
    h, w, pad = 12, 16, 2
    orig = _images(n=n, h=h, w=w)
    rec = orig.clone()
    rec[-1, R] += 0.1
    grid = comparison_grid(orig, rec, padding=pad)
    assert grid.shape == (3, n * (h + pad) + pad, 4 * (w + pad) + pad)
    assert grid.min() >= 0 and grid.max() <= 1

    def panel(row: int, col: int) -> torch.Tensor:
        top, left = pad + row * (h + pad), pad + col * (w + pad)
        return grid[:, top : top + h, left : left + w]

    torch.testing.assert_close(panel(0, 0), orig[0])
    torch.testing.assert_close(panel(n - 1, 1), rec[n - 1].clamp(0, 1))
    torch.testing.assert_close(panel(n - 1, 2), signed_difference_image(orig, rec)[n - 1])
    torch.testing.assert_close(panel(n - 1, 3), absolute_difference_image(orig, rec)[n - 1])
    if n > 1:  # unchanged rows: grey signed difference, black absolute difference
        assert torch.equal(panel(0, 2), torch.full((3, h, w), 0.5))
        assert torch.equal(panel(0, 3), torch.zeros(3, h, w))
    assert len(PANELS) == 4


def test_comparison_grid_greyscale_and_errors() -> None:
    grey = torch.rand(2, 1, 8, 8)
    assert comparison_grid(grey, grey).shape[0] == 3
    with pytest.raises(ValueError, match="1- or 3-channel"):
        comparison_grid(torch.rand(2, 4, 8, 8), torch.rand(2, 4, 8, 8))
    with pytest.raises(ValueError, match="empty"):
        comparison_grid(torch.rand(0, 3, 8, 8), torch.rand(0, 3, 8, 8))


# --------------------------------------------------------------------------- PNG / figure export


def test_save_png_round_trip_and_no_temp_file(tmp_path: Path) -> None:
    orig = _images(n=2)
    grid = comparison_grid(orig, orig.flip(-1))
    path = tmp_path / "sub" / "grid.png"  # parent is created
    assert save_png(grid, path) == path
    assert [p.name for p in path.parent.iterdir()] == ["grid.png"]
    with Image.open(path) as im:
        assert im.mode == "RGB" and im.size == (grid.shape[2], grid.shape[1])
        pixels = np.asarray(im)
    expected = (grid * 255 + 0.5).floor().to(torch.uint8).permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(pixels, expected)

    # overwriting works and still leaves a single file
    save_png(torch.zeros(3, 5, 7), path)
    with Image.open(path) as im:
        assert im.size == (7, 5) and np.asarray(im).max() == 0
    assert [p.name for p in path.parent.iterdir()] == ["grid.png"]


def test_save_png_greyscale_and_validation(tmp_path: Path) -> None:
    img = torch.linspace(0, 1, 20).reshape(4, 5)
    save_png(img, tmp_path / "grey.png")
    with Image.open(tmp_path / "grey.png") as im:
        assert im.mode == "L"
        np.testing.assert_array_equal(np.asarray(im), (img * 255 + 0.5).floor().to(torch.uint8).numpy())
    with pytest.raises(ValueError, match="C×H×W"):
        save_png(torch.rand(2, 3, 4, 4), tmp_path / "batch.png")
    with pytest.raises(ValueError, match="non-finite"):
        save_png(torch.full((3, 4, 4), float("nan")), tmp_path / "nan.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grey.png"]


def test_atomic_write_failure_keeps_old_file_and_cleans_up(tmp_path: Path) -> None:
    path = tmp_path / "out.png"
    path.write_bytes(b"old")

    def failing_writer(f) -> None:  # noqa: ANN001
        f.write(b"partial")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic_write(path, failing_writer)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_comparison_figure_saves_atomically(tmp_path: Path) -> None:
    orig = _images(n=2, h=16, w=16)
    rec = (orig + 0.05 * torch.randn_like(orig)).clamp(0, 1)
    fig = comparison_figure(orig, rec, row_labels=["a", "b"])
    titles = [ax.get_title() for ax in fig.axes[:4]]
    assert titles == list(PANELS)
    assert "PSNR" in fig.axes[1].get_xlabel() and "SSIM" in fig.axes[1].get_xlabel()
    path = save_figure(fig, tmp_path / "figure.png", dpi=50)
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size[0] > 0
    assert [p.name for p in tmp_path.iterdir()] == ["figure.png"]
    # images below the SSIM window still get a figure (PSNR only)
    small = comparison_figure(orig[:, :, :8, :8], rec[:, :, :8, :8])
    assert "SSIM" not in small.axes[1].get_xlabel()


def test_layer_sweep_figure_panels_labels_and_errors() -> None:
    from deeprestore.metrics.figures import layer_sweep_figure

    torch.manual_seed(0)
    original = torch.rand(3, 16, 16)
    recon = {"mv2016": {"conv1": original.clone(), "conv2": torch.rand(3, 16, 16)}, "gd-plain": {"conv2": original * 0.5}}
    fig = layer_sweep_figure(original, recon, ["conv1", "conv2"], title="photo")
    axes = fig.axes
    assert len(axes) == 2 * 3
    assert [ax.get_title() for ax in axes[:3]] == ["original", "conv1", "conv2"]
    assert axes[1].get_xlabel() == "SSIM 1.00"  # identical reconstruction
    assert not axes[4].axison  # gd-plain has no conv1 panel: left empty
    assert axes[0].get_ylabel() == "mv2016" and axes[3].get_ylabel() == "gd-plain"
    with pytest.raises(ValueError, match="3×H×W"):
        layer_sweep_figure(original[None], recon, ["conv1"])
    with pytest.raises(ValueError, match="same shape|shape"):
        layer_sweep_figure(original, {"m": {"conv1": torch.rand(3, 8, 8)}}, ["conv1"])


def test_an_image_rows_figure_has_a_labelled_row_per_entry():
    from deeprestore.metrics import image_rows_figure

    fig = image_rows_figure({"a": torch.rand(3, 3, 8, 8), "b": torch.rand(2, 3, 8, 8)})
    assert len(fig.axes) == 6 and fig.axes[0].get_ylabel() == "a" and fig.axes[3].get_ylabel() == "b"
    assert not fig.axes[5].images  # b has two images
