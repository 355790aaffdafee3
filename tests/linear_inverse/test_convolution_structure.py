"""The distance from a (transposed, strided) convolution: zero exactly for convolutions, with the known
circulant case of the pseudo-inverse and the stride's effect on it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deeprestore.linear_inverse import (
    ConvolutionGrid,
    convolution_distance,
    convolution_projection,
    convolution_window,
    layer_matrix,
    pseudo_inverse,
)
from deeprestore.stats.stationarity import toeplitz_projection


def _conv(c_in: int, c_out: int, stride: int, padding_mode: str = "zeros", kernel: int = 3) -> nn.Conv2d:
    torch.manual_seed(0)
    return nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, padding_mode=padding_mode, bias=False).double()


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("padding_mode", ["zeros", "circular"])
def test_a_convolutions_matrix_has_distance_zero_under_its_own_boundary(stride, padding_mode):
    conv = _conv(3, 5, stride, padding_mode)
    w = layer_matrix(conv, (3, 8, 8))
    grid = ConvolutionGrid((3, 8, 8), (5, 8 // stride, 8 // stride), stride, circular=padding_mode == "circular")
    assert convolution_distance(w, grid) < 1e-12
    assert convolution_distance(w, grid, border=1) < 1e-12
    assert bool((w[~convolution_window(grid, 1)] == 0).all())  # a 3×3 kernel: every entry within radius 1


def test_wrap_around_entries_are_not_a_zero_padded_convolution_with_the_same_kernel():
    w = layer_matrix(_conv(3, 5, 2, "circular"), (3, 8, 8))
    zero_padded = ConvolutionGrid((3, 8, 8), (5, 4, 4), 2)
    assert convolution_distance(w, zero_padded, radius=1) > 0.1
    assert convolution_distance(w, zero_padded, radius=7) < 1e-12  # … but one with a kernel spanning the image
    assert convolution_distance(w, zero_padded, border=1, radius=1) < 1e-12  # the interior does not wrap


def test_an_unstructured_matrix_is_far_and_the_projection_is_orthogonal():
    grid = ConvolutionGrid((2, 6, 6), (3, 3, 3), 2)
    m = torch.randn(grid.feature_size, grid.image_size, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    projected = convolution_projection(m, grid)
    assert convolution_distance(m, grid) > 0.5
    assert torch.allclose(convolution_projection(projected, grid), projected)  # idempotent
    assert abs(float(((m - projected) * projected).sum())) < 1e-9 * float(m.square().sum())  # orthogonal


def test_one_channel_stride_one_is_the_toeplitz_structure_of_the_statistics():
    m = torch.randn(20, 20, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    assert torch.allclose(convolution_projection(m, ConvolutionGrid((1, 4, 5), (1, 4, 5))), toeplitz_projection(m, 4, 5))


def test_a_circular_convolutions_pseudo_inverse_is_a_transposed_convolution_of_the_same_stride():
    # Stride 1: W⁺ is circulant (the known case). Stride 2: W⁺ is a stride-2 transposed circular
    # convolution, but the reconstruction W⁺W it gives is not a stride-1 circulant of the image.
    for stride, c_out in [(1, 3), (2, 6)]:
        w = layer_matrix(_conv(2, c_out, stride, "circular"), (2, 8, 8))
        inverse = pseudo_inverse(w)
        grid = ConvolutionGrid((2, 8, 8), (c_out, 8 // stride, 8 // stride), stride, circular=True)
        assert convolution_distance(inverse.T, grid) < 1e-9
        image_grid = ConvolutionGrid((2, 8, 8), (2, 8, 8), 1, circular=True)
        reconstruction = convolution_distance(inverse @ w, image_grid)
        assert (reconstruction < 1e-9) if stride == 1 else (reconstruction > 0.05)


def test_a_zero_padded_convolutions_pseudo_inverse_departs_most_at_the_border():
    w = layer_matrix(_conv(1, 1, 1, kernel=3), (1, 12, 12))
    grid = ConvolutionGrid((1, 12, 12), (1, 12, 12))
    whole, interior = convolution_distance(pseudo_inverse(w).T, grid), convolution_distance(pseudo_inverse(w).T, grid, border=3)
    assert whole > 0.05 and interior < whole


def test_grids_that_do_not_fit_are_refused():
    with pytest.raises(ValueError, match="circular grid needs"):
        ConvolutionGrid((3, 8, 8), (5, 3, 3), 2, circular=True)
    with pytest.raises(ValueError, match="pass an inverse transposed"):
        convolution_distance(torch.zeros(48, 20), ConvolutionGrid((3, 4, 4), (5, 2, 2), 2))
    with pytest.raises(ValueError, match="no interior"):
        convolution_distance(torch.zeros(20, 48), ConvolutionGrid((3, 4, 4), (5, 2, 2), 2), border=1)
