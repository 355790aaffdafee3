"""Matplotlib figures for reports: the 4-panel comparison with per-row metrics, the layer sweep, and rows
of images."""

from __future__ import annotations

import io
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure
from torch import Tensor

from deeprestore.atomic_io import atomic_write
from deeprestore.metrics._checks import check_image_pair
from deeprestore.metrics.difference_images import absolute_difference_image, signed_difference_image
from deeprestore.metrics.grids import PANELS
from deeprestore.metrics.scores import SSIM_WINDOW, image_metrics, psnr

__all__ = ["comparison_figure", "image_rows_figure", "layer_sweep_figure", "save_figure"]


def comparison_figure(
    original: Tensor,
    reconstruction: Tensor,
    titles: Sequence[str] = PANELS,
    row_labels: Sequence[str] | None = None,
    show_metrics: bool = True,
    panel_inches: float = 2.0,
) -> Figure:
    """Figure with one row per image: original | reconstruction | difference | |difference|.

    Same panels as :func:`~deeprestore.metrics.grids.comparison_grid`
    (Harder 2017, MSc thesis "Deep Restoration", figures 6 and 7) with column
    titles and, optionally, PSNR / SSIM of each row under the reconstruction.
    Uses :class:`matplotlib.figure.Figure` directly (no pyplot, no global state,
    no GUI backend needed).

    Args:
        original: N×C×H×W floating point in ``[0, 1]`` (clamped), C in {1, 3}, N >= 1.
        reconstruction: same shape.
        titles: the 4 column titles.
        row_labels: optional N labels shown left of each row.
        show_metrics: annotate each reconstruction with PSNR (and SSIM if the
            image is at least 11×11).
        panel_inches: size of one panel in inches.

    Returns:
        The figure; save it with :func:`save_figure`.
    """
    check_image_pair(reconstruction, original, names=("reconstruction", "original"))
    n, c, h, w = original.shape
    if n == 0:
        raise ValueError("comparison_figure needs at least one image, got an empty batch")
    if c not in (1, 3):
        raise ValueError(f"comparison_figure needs 1- or 3-channel images, got C={c}")
    if len(titles) != 4:
        raise ValueError(f"titles must have 4 entries, got {len(titles)}")
    if row_labels is not None and len(row_labels) != n:
        raise ValueError(f"row_labels must have {n} entries, got {len(row_labels)}")

    orig = original.detach().float().clamp(0.0, 1.0)
    rec = reconstruction.detach().float().clamp(0.0, 1.0)
    columns = [orig, rec, signed_difference_image(orig, rec), absolute_difference_image(orig, rec)]
    metrics = None
    if show_metrics:
        if min(h, w) >= SSIM_WINDOW:
            metrics = {k: v.cpu().tolist() for k, v in image_metrics(rec, orig).items()}
        else:
            metrics = {"psnr": psnr(rec, orig).cpu().tolist()}

    aspect = h / w
    fig = Figure(figsize=(4 * panel_inches, n * panel_inches * aspect + 0.4), layout="constrained")
    axes = fig.subplots(n, 4, squeeze=False)
    for i in range(n):
        for j, col in enumerate(columns):
            ax = axes[i][j]
            img = col[i].permute(1, 2, 0).cpu().numpy()
            if c == 1:
                ax.imshow(img[..., 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            else:
                ax.imshow(img, vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(titles[j], fontsize=9)
        if row_labels is not None:
            axes[i][0].set_ylabel(row_labels[i], fontsize=9)
        if metrics is not None:
            text = f"PSNR {metrics['psnr'][i]:.2f} dB"
            if "ssim" in metrics:
                text += f"  SSIM {metrics['ssim'][i]:.3f}"
            axes[i][1].set_xlabel(text, fontsize=8)
    return fig


def layer_sweep_figure(
    original: Tensor,
    reconstructions: Mapping[str, Mapping[str, Tensor]],
    layers: Sequence[str],
    title: str | None = None,
    panel_inches: float = 1.3,
) -> Figure:
    """One image reconstructed from every layer by every method, as in M&V 2016, figure 6.

    Rows are methods, columns the original followed by ``layers`` in network order; a method
    without a reconstruction at a layer leaves that panel empty. Each panel is labelled with its
    SSIM against the original.

    Args:
        original: ``3×H×W`` in [0, 1].
        reconstructions: method → layer → ``3×H×W`` reconstruction (clamped to [0, 1] here).
        layers: the columns, in network order.
        title: optional figure title (e.g. the image name).
    """
    if original.ndim != 3 or original.shape[0] != 3:
        raise ValueError(f"original must be 3×H×W, got {tuple(original.shape)}")
    if not reconstructions or not layers:
        raise ValueError("layer_sweep_figure needs at least one method and one layer")
    orig = original.detach().float().cpu().clamp(0.0, 1.0)
    h, w = orig.shape[-2:]
    methods = list(reconstructions)
    fig = Figure(figsize=((len(layers) + 1) * panel_inches, len(methods) * panel_inches * h / w + 0.6), layout="constrained")
    axes = fig.subplots(len(methods), len(layers) + 1, squeeze=False)
    for i, method in enumerate(methods):
        for j, column in enumerate(["original", *layers]):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(column, fontsize=8)
            if j == 0:
                ax.set_ylabel(method, fontsize=8)
                ax.imshow(orig.permute(1, 2, 0).numpy(), vmin=0.0, vmax=1.0)
                continue
            rec = reconstructions[method].get(column)
            if rec is None:
                ax.set_axis_off()
                continue
            rec = rec.detach().float().cpu().clamp(0.0, 1.0)
            check_image_pair(rec[None], orig[None], names=(f"{method} {column}", "original"))
            ax.imshow(rec.permute(1, 2, 0).numpy(), vmin=0.0, vmax=1.0)
            if min(h, w) >= SSIM_WINDOW:
                ax.set_xlabel(f"SSIM {image_metrics(rec[None], orig[None])['ssim'].item():.2f}", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def image_rows_figure(rows: Mapping[str, Tensor], panel_inches: float = 1.4) -> Figure:
    """A row of images per entry (``N×3×H×W`` in ``[0, 1]``), labelled with its key: a study's samples or
    decoded images side by side."""
    columns = max(len(v) for v in rows.values())
    fig = Figure(figsize=(columns * panel_inches + 1.4, len(rows) * panel_inches + 0.3), layout="constrained")
    axes = fig.subplots(len(rows), columns, squeeze=False)
    for row, (name, images) in enumerate(rows.items()):
        for col in range(columns):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col < len(images):
                ax.imshow(images[col].clamp(0, 1).permute(1, 2, 0).numpy())
            if col == 0:
                ax.set_ylabel(textwrap.fill(name, 18), fontsize=8)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 150) -> Path:
    """Save a matplotlib figure atomically (temporary file + :func:`os.replace`).

    The format follows the file suffix (``.png``, ``.pdf``, ``.svg``, ...).

    Args:
        fig: the figure, e.g. from :func:`comparison_figure`.
        path: destination file.
        dpi: resolution for raster formats.

    Returns:
        The destination path.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi)  # render first: a rendering error leaves no file at all
    return atomic_write(path, lambda f: f.write(buf.getvalue()))
