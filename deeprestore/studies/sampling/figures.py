"""The sampling study's figures: the final samples (a row per configuration, a column per chain) and
each configuration's energies along its chains."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure
from torch import Tensor

__all__ = ["energy_figure", "samples_figure"]


def samples_figure(samples: Mapping[str, Tensor], panel_inches: float = 1.4) -> Figure:
    """Rows: configurations; columns: chains (``N×3×H×W`` in ``[0, 1]`` each)."""
    columns = max(len(v) for v in samples.values())
    fig = Figure(figsize=(columns * panel_inches + 1.4, len(samples) * panel_inches + 0.3), layout="constrained")
    axes = fig.subplots(len(samples), columns, squeeze=False)
    for row, (name, images) in enumerate(samples.items()):
        for col in range(columns):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col < len(images):
                ax.imshow(images[col].clamp(0, 1).permute(1, 2, 0).numpy())
            if col == 0:
                ax.set_ylabel(name, fontsize=8)
    return fig


def energy_figure(name: str, trace: Sequence[Mapping[str, object]], terms: Sequence[str]) -> Figure:
    """One panel per term: its energy (unweighted; lower is more probable) against the step, a line per chain."""
    fig = Figure(figsize=(3.2 * max(len(terms), 1), 2.6), layout="constrained")
    axes = fig.subplots(1, max(len(terms), 1), squeeze=False)[0]
    steps = [int(t["step"]) for t in trace]  # type: ignore[call-overload]
    for ax, term in zip(axes, terms):
        values = [t[term] for t in trace]
        for chain in range(len(values[0])):  # type: ignore[arg-type]
            ax.plot(steps, [float(v[chain]) for v in values], lw=1)  # type: ignore[index]
        ax.set_title(term, fontsize=9)
        ax.set_xlabel("step")
    axes[0].set_ylabel("energy")
    fig.suptitle(name, fontsize=10)
    return fig
