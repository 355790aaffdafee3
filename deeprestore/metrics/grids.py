"""Comparison grids (original | reconstruction | difference | |difference|) and PNG export."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor
from torchvision.utils import make_grid

from deeprestore.atomic_io import atomic_write
from deeprestore.metrics._checks import check_finite, check_image_pair
from deeprestore.metrics.difference_images import absolute_difference_image, signed_difference_image

__all__ = ["PANELS", "comparison_grid", "save_png"]

#: Column order of :func:`comparison_grid`.
PANELS: tuple[str, ...] = ("original", "reconstruction", "difference (grey = 0)", "|difference| (black = 0)")


def comparison_grid(original: Tensor, reconstruction: Tensor, padding: int = 2, pad_value: float = 1.0) -> Tensor:
    """One row per image: original | reconstruction | signed difference | absolute difference.

    The layout of Harder (2017), MSc thesis "Deep Restoration", figures 6 and 7;
    the difference panels are :func:`~deeprestore.metrics.difference_images.
    signed_difference_image` (mid grey = no error) and
    :func:`~deeprestore.metrics.difference_images.absolute_difference_image`
    (black = no error). Images are clamped to ``[0, 1]``. Built with
    :func:`torchvision.utils.make_grid`.

    Args:
        original: N×C×H×W floating point in ``[0, 1]``, C in {1, 3} (1 is shown
            as grey).
        reconstruction: N×C×H×W, same shape as ``original``.
        padding: pixels between and around the panels.
        pad_value: colour of the padding (1.0 = white).

    Returns:
        3×H'×W' tensor in ``[0, 1]`` on the input device (detached), with
        ``H' = N (H + padding) + padding`` and ``W' = 4 (W + padding) + padding``.

    Raises:
        ValueError: invalid input (see ``check_image_pair``), an empty batch or
            C not in {1, 3}.
    """
    check_image_pair(reconstruction, original, names=("reconstruction", "original"))
    n, c = original.shape[:2]
    if n == 0:
        raise ValueError("comparison_grid needs at least one image, got an empty batch")
    if c not in (1, 3):
        raise ValueError(f"comparison_grid needs 1- or 3-channel images, got C={c}")
    orig = original.detach().float().clamp(0.0, 1.0)
    rec = reconstruction.detach().float().clamp(0.0, 1.0)
    panels = torch.stack(
        [orig, rec, signed_difference_image(orig, rec).float(), absolute_difference_image(orig, rec).float()], dim=1
    )  # N×4×C×H×W, row-major: image i's panels are consecutive
    return make_grid(panels.flatten(0, 1), nrow=len(PANELS), padding=padding, pad_value=pad_value)


def _to_uint8_hwc(image: Tensor) -> Tensor:
    if not isinstance(image, Tensor):
        raise TypeError(f"image must be a torch.Tensor, got {type(image).__name__}")
    if image.ndim == 2:
        image = image.unsqueeze(0)
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(
            f"save_png expects a C×H×W image with C in {{1, 3}} or an H×W image, got shape {tuple(image.shape)} "
            "(combine batches with comparison_grid or torchvision.utils.make_grid first)"
        )
    image = image.detach().cpu()
    if image.dtype == torch.uint8:
        out = image
    elif image.is_floating_point():
        check_finite(image, "image")
        # Same quantisation as torchvision.utils.save_image: round(255 x).
        out = image.float().clamp(0.0, 1.0).mul(255.0).add(0.5).floor().to(torch.uint8)
    else:
        raise TypeError(f"image must be floating point in [0, 1] or uint8, got dtype {image.dtype}")
    return out.permute(1, 2, 0).contiguous()


def save_png(image: Tensor, path: str | os.PathLike[str]) -> Path:
    """Write an image tensor to a PNG file atomically.

    The PNG is written to a temporary file in the destination directory and then
    moved into place with :func:`os.replace` (see
    :func:`~deeprestore.atomic_io.atomic_write`), so an interrupted
    run never leaves a truncated file. Missing parent directories are created.

    Args:
        image: C×H×W (C in {1, 3}) or H×W tensor, floating point in ``[0, 1]``
            (clamped, quantised as ``round(255 x)``) or uint8; any device.
        path: destination file, conventionally ending in ``.png``.

    Returns:
        The destination path.
    """
    hwc = _to_uint8_hwc(image).numpy()
    pil = Image.fromarray(hwc[..., 0] if hwc.shape[-1] == 1 else hwc)  # uint8: mode "L" or "RGB"
    return atomic_write(path, lambda f: pil.save(f, format="PNG"))
