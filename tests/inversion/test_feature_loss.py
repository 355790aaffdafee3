"""A worked example of the gradient of the feature loss, by hand and through the project's own loss and autograd.

The asker convolves the 1-D image [1, 2, −1] with the two filters (rows of) W = [[−1, 2], [1, 1]]
by im2col, compares with the same for white noise [−1, 0, 1] under L = ½ Σ (x − y)², and
back-propagates by hand to G = [−2, −14, 12]. Here the same numbers go through a one-stage
:class:`LayeredNetwork` and :class:`NormalisedFeatureLoss` (whose ``C / ‖Φ0‖²`` is set to ½).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from deeprestore.inversion.feature_loss import NormalisedFeatureLoss
from deeprestore.nets.layered_network import LayeredNetwork


def one_conv_network() -> LayeredNetwork:
    conv = nn.Conv2d(3, 2, kernel_size=(1, 2), bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[:, 0, 0, :] = torch.tensor([[-1.0, 2.0], [1.0, 1.0]])  # the rows of W act on channel 0
    return LayeredNetwork("one_conv", OrderedDict(conv=conv), {"conv": "conv"}, mean=(0, 0, 0), std=(1, 1, 1), weights="hand-set")


def as_image(values: list[float]) -> torch.Tensor:
    image = torch.zeros(1, 3, 1, 3)
    image[0, 0, 0] = torch.tensor(values)
    return image


def test_forward_matches_the_question_im2col_products():
    net = one_conv_network()
    torch.testing.assert_close(net.features(as_image([1, 2, -1]), "conv")["conv"][0, :, 0], torch.tensor([[3.0, -4.0], [3.0, 1.0]]))
    torch.testing.assert_close(net.features(as_image([-1, 0, 1]), "conv")["conv"][0, :, 0], torch.tensor([[1.0, 2.0], [-1.0, 1.0]]))


def test_gradient_of_the_white_noise_is_minus_2_minus_14_12():
    net = one_conv_network()
    target = as_image([1, 2, -1])
    norm = float(net.features(target, "conv")["conv"].pow(2).sum())  # ‖Φ0‖² = 9 + 16 + 9 + 1 = 35
    assert norm == 35.0
    loss = NormalisedFeatureLoss.from_images(net, {"conv": norm / 2}, target)  # C/‖Φ0‖² = ½: the question's L
    noise = as_image([-1, 0, 1]).requires_grad_(True)
    value = loss(noise)
    assert value.item() == 0.5 * (4 + 36 + 16 + 0)
    value.sum().backward()
    torch.testing.assert_close(noise.grad[0, 0, 0], torch.tensor([-2.0, -14.0, 12.0]))
    assert noise.grad[0, 1:].abs().sum() == 0
