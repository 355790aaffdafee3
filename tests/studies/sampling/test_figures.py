"""The sampling study's figures: a panel per chain and configuration, a panel per recorded term."""

from __future__ import annotations

import torch

from deeprestore.studies.sampling.figures import energy_figure, samples_figure


def test_samples_and_energy_figures_have_their_panels():
    fig = samples_figure({"a": torch.rand(3, 3, 8, 8), "b": torch.rand(2, 3, 8, 8)})
    assert len(fig.axes) == 6 and fig.axes[0].get_ylabel() == "a" and not fig.axes[5].images  # b has 2 chains
    trace = [{"step": s, "ica-image": torch.tensor([1.0 * s, 2.0]), "class 1": torch.tensor([0.5, 0.4])} for s in (5, 10)]
    fig = energy_figure("x", trace, ["ica-image", "class 1"])
    assert [ax.get_title() for ax in fig.axes] == ["ica-image", "class 1"] and len(fig.axes[0].lines) == 2
