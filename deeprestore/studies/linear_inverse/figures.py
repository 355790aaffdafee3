"""The figure of the linear-inverse study: what single feature units reconstruct under each inverse.

Column ``(c', i', j')`` of an inverse ``M`` (``n×m``) is the image that one feature unit contributes
(the "row of the inverse" seen from the features). For a transposed convolution it is the same kernel
moved by ``s`` image pixels per feature step, so shapes that change between the corner, the edge and
the centre show at a glance where — and how much — an inverse is not a convolution.
"""

from __future__ import annotations

from collections.abc import Mapping

from matplotlib.figure import Figure
from torch import Tensor

from deeprestore.linear_inverse import ConvolutionGrid

__all__ = ["inverse_columns_figure"]

POSITIONS = {"corner": (0.0, 0.0), "edge": (0.0, 0.5), "centre": (0.5, 0.5)}


def inverse_columns_figure(inverses: Mapping[str, Tensor], grid: ConvolutionGrid, title: str, panel_inches: float = 1.6) -> Figure:
    """Rows: inverses; columns: the first image channel of the image contributed by feature channel 0
    at the corner, the middle of the top edge and the centre (each panel its own symmetric colour
    scale, blue < 0 < red, so that a small column beside a huge one still shows its shape)."""
    (_, h, w), (_, h2, w2) = grid.image, grid.features
    fig = Figure(figsize=(len(POSITIONS) * panel_inches + 0.6, len(inverses) * panel_inches + 0.5), layout="constrained")
    axes = fig.subplots(len(inverses), len(POSITIONS), squeeze=False)
    for row, (name, inverse) in enumerate(inverses.items()):
        images = [inverse[: h * w, int(a * (h2 - 1)) * w2 + int(b * (w2 - 1))].reshape(h, w) for a, b in POSITIONS.values()]
        for col, (where, image) in enumerate(zip(POSITIONS, images)):
            scale = float(image.abs().max()) or 1.0
            ax = axes[row, col]
            ax.imshow(image.numpy(), cmap="RdBu_r", vmin=-scale, vmax=scale, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(where, fontsize=9)
            if col == 0:
                ax.set_ylabel(name, fontsize=9)
    fig.suptitle(title, fontsize=10)
    return fig
