"""A figure of a patch prior's learned filters (the MSc thesis's figure 8)."""

from __future__ import annotations

import math

from matplotlib.figure import Figure

from deeprestore.priors.patch_energy import PatchEnergy

__all__ = ["filter_figure"]


def filter_figure(model: PatchEnergy, max_filters: int = 256, columns: int = 16, panel_inches: float = 0.45) -> Figure:
    """Tiles of the composed filters ``W A`` (in the patches' own units), largest ``α`` first.

    Colour (3-channel) filters are shown as RGB, each scaled to [0, 1] on its own (grey = 0);
    grey filters in grey; feature-map filters (``C`` ≠ 1, 3) as the ``k×k`` map of their norm over
    channels. Titles give ``α``.
    """
    weight, _ = model.conv_filters()
    weight, alphas = weight.detach().float().cpu(), model.alphas.detach().float().cpu()
    order = alphas.argsort(descending=True)[:max_filters]
    count = len(order)
    rows = math.ceil(count / columns)
    fig = Figure(figsize=(columns * panel_inches, rows * panel_inches + 0.5), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, index in zip(axes.flat, order.tolist()):
        w = weight[index]
        if w.shape[0] == 3:
            w = w / (2 * w.abs().max().clamp_min(1e-12)) + 0.5
            ax.imshow(w.permute(1, 2, 0).numpy(), interpolation="nearest")
        elif w.shape[0] == 1:
            ax.imshow(w[0].numpy(), cmap="gray", interpolation="nearest")
        else:
            ax.imshow(w.norm(dim=0).numpy(), cmap="magma", interpolation="nearest")
    fig.suptitle(
        f"{model.expert_name}: {count} of {model.n_filters} filters, {model.channels}×{model.size}×{model.size}, largest α first",
        fontsize=8,
    )
    return fig
