"""Figures of feature-map statistics, after Harder 2017, MSc thesis "Deep Restoration", figure 4.

Built on :class:`matplotlib.figure.Figure` directly (no pyplot, no GUI backend); save them with
:func:`deeprestore.metrics.figures.save_figure` (atomic).

* :func:`covariance_figure` — thesis figure 4 and more: for the average spatial covariance and its
  inverse, the matrix, its nearest stationary (Toeplitz) matrix, the row of the centre position as
  an ``h×w`` map (the spatial "kernel"), and the per-position deviation map showing border effects;
* :func:`gram_figure` — the mean Gram matrix and its normalised form;
* :func:`sparsity_figure` — per-channel zero fraction and Hoyer sparsity, and the distribution of
  the Hoyer sparsity of single maps (with the value of a dense Gaussian map for scale);
* :func:`stationarity_figure` — Toeplitz distance against the border left out, for several layers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from deeprestore.stats.layer_stats import LayerResult
from deeprestore.stats.sparsity import gaussian_hoyer
from deeprestore.stats.stationarity import toeplitz_projection

__all__ = ["covariance_figure", "gram_figure", "sparsity_figure", "stationarity_figure"]


def _offdiagonal_range(matrix: np.ndarray) -> float:
    """Largest absolute off-diagonal entry (the diagonal saturates), or the largest entry."""
    off = matrix[~np.eye(matrix.shape[0], dtype=bool)]
    top = float(np.abs(off).max()) if off.size else 0.0
    return top if top > 0 else float(np.abs(matrix).max()) or 1.0


def _image(fig: Figure, ax: Axes, data: np.ndarray, title: str, vmax: float | None = None, diverging: bool = True) -> None:
    if diverging:
        limit = vmax if vmax is not None else float(np.abs(data).max()) or 1.0
        im = ax.imshow(data, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    else:
        im = ax.imshow(data, cmap="magma", vmin=0.0, vmax=vmax, interpolation="nearest")
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def covariance_figure(result: LayerResult, panel_inches: float = 2.4) -> Figure:
    """Average spatial covariance and its inverse, as thesis figure 4, with stationarity panels.

    Rows: covariance, inverse covariance. Columns: the ``(h·w)×(h·w)`` matrix (positions
    row-major); its nearest stationary matrix ``T(M)``; the row of the centre position shown as an
    ``h×w`` map; the per-position deviation ``‖(M − T_b(M))[p,:]‖/‖M[p,:]‖`` from the stationary
    matrix fitted to the interior (border ``b``; border effects show as a bright frame). The
    colour range of the matrices is the largest off-diagonal magnitude, so the diagonal saturates.

    Args:
        result: from :meth:`~deeprestore.stats.layer_stats.LayerStatistics.result`.
        panel_inches: size of one panel.
    """
    c, h, w = result.shape
    centre = (h // 2) * w + w // 2
    distances = result.summary.get("toeplitz_distance", {})
    fig = Figure(figsize=(4 * panel_inches + 0.8, 2 * panel_inches + 0.7), layout="constrained")
    axes = fig.subplots(2, 4, squeeze=False)
    rows = [
        ("covariance", result.spatial_covariance, result.covariance_deviation),
        ("inverse covariance", result.spatial_inverse, result.inverse_deviation),
    ]
    for r, (label, matrix, deviation) in enumerate(rows):
        m = matrix.numpy()
        key = "covariance" if r == 0 else "inverse_covariance"
        d = distances.get(key, {})
        limit = _offdiagonal_range(m)
        _image(fig, axes[r][0], m, f"{label} ({h * w}×{h * w})", limit)
        interior = d.get("interior")
        note = f", interior {interior:.3f}" if interior is not None else ""
        _image(
            fig,
            axes[r][1],
            toeplitz_projection(matrix, h, w).numpy(),
            f"nearest Toeplitz\ndistance {d.get('total', float('nan')):.3f}{note}",
            limit,
        )
        _image(fig, axes[r][2], m[centre].reshape(h, w), f"row of centre ({h // 2},{w // 2}) as {h}×{w}", limit)
        fit = f", fit b={result.deviation_fit_border}" if result.deviation_fit_border else ""
        _image(fig, axes[r][3], deviation.numpy(), f"row deviation{fit}", diverging=False)
        axes[r][0].set_ylabel(label, fontsize=9)
    fig.suptitle(f"{result.layer}: {c}×{h}×{w} feature maps, {result.images} images", fontsize=9)
    return fig


def gram_figure(result: LayerResult, panel_inches: float = 3.0) -> Figure:
    """The mean Gram matrix ``Ḡ = mean_n F_n F_nᵀ/(h·w)`` (``C×C``) and ``Ḡ_ij/√(Ḡ_ii Ḡ_jj)``."""
    gram = result.gram.numpy()
    diag = np.sqrt(np.clip(np.diag(gram), 0.0, None))
    outer = diag[:, None] * diag[None, :]
    normalised = np.divide(gram, outer, out=np.zeros_like(gram), where=outer > 0)
    fig = Figure(figsize=(2 * panel_inches + 0.8, panel_inches + 0.5), layout="constrained")
    axes = fig.subplots(1, 2, squeeze=False)[0]
    _image(fig, axes[0], gram, f"mean Gram matrix ({gram.shape[0]}×{gram.shape[0]})")
    _image(fig, axes[1], normalised, "normalised: G_ij / sqrt(G_ii G_jj)", 1.0)
    fig.suptitle(f"{result.layer}: Gram matrices over {result.images} images", fontsize=9)
    return fig


def sparsity_figure(result: LayerResult, panel_inches: float = 2.8) -> Figure:
    """Per-channel zero fraction and mean Hoyer sparsity (sorted bars), and a histogram of the
    Hoyer sparsity of single feature maps."""
    s = result.sparsity
    zero = np.sort(s.zero_fraction.numpy())[::-1]
    hoyer_channel = s.channel_hoyer().numpy()
    hoyer_channel = np.sort(hoyer_channel[np.isfinite(hoyer_channel)])[::-1]
    maps = s.map_hoyer.numpy().ravel()
    maps = maps[np.isfinite(maps)]
    fig = Figure(figsize=(3 * panel_inches, panel_inches), layout="constrained")
    axes = fig.subplots(1, 3, squeeze=False)[0]
    axes[0].bar(np.arange(zero.size), zero, width=1.0, color="tab:blue")
    if not zero.any():
        axes[0].text(0.5, 0.5, f"no activation with |x| ≤ {s.tol:g}", ha="center", va="center", transform=axes[0].transAxes, fontsize=8)
    axes[0].set_title(f"zero fraction (|x| ≤ {s.tol:g}); mean {zero.mean():.3f}", fontsize=8)
    axes[0].set_xlabel("channel (sorted)", fontsize=8)
    axes[0].set_ylim(0, 1)
    axes[1].bar(np.arange(hoyer_channel.size), hoyer_channel, width=1.0, color="tab:orange")
    mean_h = f"{hoyer_channel.mean():.3f}" if hoyer_channel.size else "n/a"
    axes[1].set_title(f"Hoyer sparsity per channel; mean {mean_h}", fontsize=8)
    axes[1].set_xlabel("channel (sorted)", fontsize=8)
    axes[1].set_ylim(0, 1)
    axes[2].hist(maps, bins=40, range=(0.0, 1.0), color="tab:green")
    if s.map_size >= 2:
        axes[2].axvline(gaussian_hoyer(s.map_size), color="black", linestyle="--", linewidth=1, label="i.i.d. Gaussian")
        axes[2].legend(fontsize=7)
    dead = float(s.dead_fraction.mean())
    axes[2].set_title(f"Hoyer sparsity of single maps; {dead:.1%} dead", fontsize=8)
    axes[2].set_xlabel("Hoyer sparsity", fontsize=8)
    for ax in axes:
        ax.tick_params(labelsize=7)
    fig.suptitle(f"{result.layer}: sparsity over {result.images} images", fontsize=9)
    return fig


def stationarity_figure(results: Sequence[LayerResult], panel_inches: float = 3.0) -> Figure:
    """Toeplitz distance against the border left out (0 = whole grid), covariance and inverse,
    one line per layer; dotted lines: the distance of the position-permuted matrix (no spatial order)."""
    if not results:
        raise ValueError("stationarity_figure needs at least one layer")
    fig = Figure(figsize=(2 * panel_inches + 0.4, panel_inches), layout="constrained")
    axes = fig.subplots(1, 2, squeeze=False)[0]
    for ax, key, title in zip(axes, ("covariance", "inverse_covariance"), ("covariance", "inverse covariance"), strict=True):
        for i, result in enumerate(results):
            d = result.summary["toeplitz_distance"][key]
            borders = sorted(int(b) for b in d["by_border"])
            colour = f"C{i % 10}"
            _, h, w = result.shape
            ax.plot(borders, [d["by_border"][str(b)] for b in borders], "o-", color=colour, label=f"{result.layer} ({h}×{w})")
            ax.axhline(d["permuted_reference"], color=colour, linestyle=":", linewidth=1)
        ax.set_title(f"{title}: distance from Toeplitz", fontsize=8)
        ax.set_xlabel("border left out (positions)", fontsize=8)
        ax.set_ylim(0, 1)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    return fig
