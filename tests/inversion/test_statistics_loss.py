"""The statistics data term: its gradient is the finite differences', it is zero at the target's own
image and blind to where features are, and the covariance is the centred Gram matrix."""

from __future__ import annotations

import pytest
import torch

from deeprestore.inversion import StatisticsLoss, map_statistics
from deeprestore.nets import load_network


@pytest.mark.parametrize("statistic", ["gram", "covariance"])
def test_the_gradient_agrees_with_finite_differences(statistic):
    """The statistic's term in float64 against finite differences; the loss through the network
    pass (float32) against autograd of the same formula on float64 maps."""
    g = torch.Generator().manual_seed(0)
    target = map_statistics(torch.randn(2, 4, 5, 5, generator=g, dtype=torch.float64), statistic)
    maps = torch.randn(2, 4, 5, 5, generator=g, dtype=torch.float64, requires_grad=True)

    def term(m):
        return (map_statistics(m, statistic) - target).flatten(1).pow(2).sum(1) / target.flatten(1).pow(2).sum(1)

    assert torch.autograd.gradcheck(term, (maps,), eps=1e-6, atol=1e-8, rtol=1e-6)

    net = load_network("efficientnet_lite0", weights="random", seed=0)
    images = torch.rand(2, 3, 16, 16, generator=g)
    loss = StatisticsLoss.from_images(net, {"stem": 1.0, "block1": 2.0}, images, statistic)
    x = torch.rand(2, 3, 16, 16, generator=g, requires_grad=True)
    (found,) = torch.autograd.grad(loss(x).sum(), x)
    x64 = x.detach().double().requires_grad_(True)
    net64 = load_network("efficientnet_lite0", weights="random", seed=0).double()
    feats, targets = net64.features(x64, ["stem", "block1"]), net64.features(images.double(), ["stem", "block1"])
    total = 0
    for layer, weight in (("stem", 1.0), ("block1", 2.0)):
        t = map_statistics(targets[layer], statistic)
        total = total + weight * ((map_statistics(feats[layer], statistic) - t).flatten(1).pow(2).sum(1) / t.flatten(1).pow(2).sum(1)).sum()
    (expected,) = torch.autograd.grad(total, x64)
    torch.testing.assert_close(found.double(), expected, rtol=1e-3, atol=1e-3 * float(expected.abs().max()))


def test_the_loss_is_zero_at_the_target_and_blind_to_where_features_are():
    net = load_network("efficientnet_lite0", weights="random", seed=0)
    image = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    loss = StatisticsLoss.from_images(net, {"stem": 1.0}, image)
    rolled = image.roll(shifts=(8, 8), dims=(2, 3))  # a circular shift moves features, keeps most of their statistics
    assert float(loss(image).abs().max()) < 1e-10 and float(loss(rolled).max()) < 0.01
    assert float(loss(torch.rand_like(image)).min()) > 10 * float(loss(rolled).max())
    maps = torch.randn(2, 4, 5, 6, generator=torch.Generator().manual_seed(2))
    centred = maps - maps.mean(dim=(2, 3), keepdim=True)
    torch.testing.assert_close(map_statistics(maps, "covariance"), centred.flatten(2) @ centred.flatten(2).transpose(1, 2) / 30)
    with pytest.raises(ValueError, match="statistic must be one of gram, covariance"):
        StatisticsLoss.from_images(net, {"stem": 1.0}, image, "mean")  # type: ignore[arg-type]
