"""The sampling study's figure of each configuration's energies along its chains (its samples are
:func:`~deeprestore.metrics.image_rows_figure`: a row per configuration, a column per chain)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

__all__ = ["energy_figure"]


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
