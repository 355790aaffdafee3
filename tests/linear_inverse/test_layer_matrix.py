"""The explicit matrix of a layer matches the layer's forward pass and its adjoint."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deeprestore.linear_inverse import layer_matrix


@pytest.mark.parametrize(
    "conv",
    [
        nn.Conv2d(3, 4, 3, padding=1),
        nn.Conv2d(3, 6, 3, stride=2, padding=1),  # Lite0's stem: stride 2, channel expansion
        nn.Conv2d(4, 4, 3, padding=1, groups=4),  # depthwise
        nn.Conv2d(4, 8, 1),  # pointwise
    ],
    ids=["conv", "strided", "depthwise", "pointwise"],
)
def test_the_matrix_is_the_layers_linear_part_and_its_transpose_the_adjoint(conv):
    torch.manual_seed(0)
    conv = conv.double()
    shape = (conv.in_channels, 6, 5)
    w = layer_matrix(conv, shape, batch=7)
    x = torch.randn(1, *shape, dtype=torch.float64, requires_grad=True)
    out = conv(x)
    assert w.shape == (out.numel(), x.numel())
    assert torch.allclose(w @ x.detach().flatten(), (out - conv.bias.view(1, -1, 1, 1)).flatten(), atol=1e-12)
    y = torch.randn_like(out)
    (adjoint,) = torch.autograd.grad(out, x, y)
    assert torch.allclose(w.T @ y.flatten(), adjoint.flatten(), atol=1e-12)


def test_a_one_channel_convolution_in_one_dimension_is_a_toeplitz_matrix():
    conv = nn.Conv2d(1, 1, (1, 3), padding=(0, 1), bias=False).double()
    w = layer_matrix(conv, (1, 1, 9))
    assert torch.equal(w[1:, 1:], w[:-1, :-1])  # constant along every diagonal
    assert torch.equal(w[4, 3:6], conv.weight.detach().flatten())


def test_a_bad_input_shape_is_refused():
    with pytest.raises(ValueError, match=r"input_shape must be \(C, H, W\)"):
        layer_matrix(nn.Identity(), (3, 0, 4))
