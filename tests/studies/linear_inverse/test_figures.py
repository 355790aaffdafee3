"""The figure of the inverses' columns."""

from __future__ import annotations

import torch

from deeprestore.linear_inverse import ConvolutionGrid
from deeprestore.studies.linear_inverse.figures import inverse_columns_figure


def test_one_row_per_inverse_and_a_column_per_position():
    grid = ConvolutionGrid((3, 8, 8), (4, 4, 4), 2)
    inverses = {"a": torch.randn(192, 64, dtype=torch.float64), "b": torch.zeros(192, 64, dtype=torch.float64)}
    fig = inverse_columns_figure(inverses, grid, "title")
    assert len(fig.axes) == 6
    assert [ax.get_title() for ax in fig.axes[:3]] == ["corner", "edge", "centre"]
    assert [fig.axes[i].get_ylabel() for i in (0, 3)] == ["a", "b"]
    assert fig.axes[0].images[0].get_array().shape == (8, 8)
