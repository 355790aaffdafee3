"""The sampling study's energy figure: a panel per recorded term, a line per chain."""

from __future__ import annotations

import torch

from deeprestore.studies.sampling.figures import energy_figure


def test_the_energy_figure_has_a_panel_per_term_and_a_line_per_chain():
    trace = [{"step": s, "ica-image": torch.tensor([1.0 * s, 2.0]), "class 1": torch.tensor([0.5, 0.4])} for s in (5, 10)]
    fig = energy_figure("x", trace, ["ica-image", "class 1"])
    assert [ax.get_title() for ax in fig.axes] == ["ica-image", "class 1"] and len(fig.axes[0].lines) == 2
