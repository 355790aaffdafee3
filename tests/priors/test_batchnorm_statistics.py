"""DeepInversion's batch-norm statistics prior: closed forms, finite differences, hooks, a photo against noise."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deeprestore.inversion import Execution, NormalisedFeatureLoss
from deeprestore.inversion.network_priors import WithBatchNormPrior
from deeprestore.nets import load_network, network_from_module
from deeprestore.priors import BatchNormStatistics
from deeprestore.priors.batchnorm_statistics import FIRST_BN_MULTIPLIER, batchnorm_layers, statistics_distance


def small_bn_net(dtype: torch.dtype = torch.float32):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 5, 3, stride=2, padding=1),
        nn.BatchNorm2d(5),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(5, 3),
    )
    for bn in (model[1], model[4]):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    return network_from_module(model.to(dtype), "bn-net", mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)).to(dtype)


def test_the_distance_is_zero_for_activations_built_with_the_stored_statistics():
    mean, var = torch.tensor([0.3, -1.0, 2.0]), torch.tensor([0.5, 1.0, 4.0])
    z = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    z = (z - z.mean((2, 3), keepdim=True)) / z.std((2, 3), correction=0, keepdim=True)  # per image: mean 0, variance 1
    x = mean.view(1, 3, 1, 1) + var.sqrt().view(1, 3, 1, 1) * z
    v, m = torch.var_mean(x, dim=(2, 3), correction=0)
    torch.testing.assert_close(statistics_distance(m, v, mean, var), torch.zeros(2), atol=1e-5, rtol=0)
    # and the closed form off the stored statistics: ‖Δμ‖ + ‖Δσ²‖
    shifted = statistics_distance(m + torch.tensor([3.0, 0.0, 4.0]), v, mean, var)
    torch.testing.assert_close(shifted, torch.full((2,), 5.0), atol=1e-4, rtol=0)


def test_the_prior_is_zero_when_the_network_stored_this_images_statistics():
    net = small_bn_net()
    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    model = net.model
    with torch.no_grad():  # store image 0's own statistics in both BN layers
        first = model[0](net.normalize(images[:1]))
        model[1].running_var, model[1].running_mean = (t.flatten() for t in torch.var_mean(first, dim=(0, 2, 3), correction=0))
        second = model[3](model[2](model[1](first)))
        model[4].running_var, model[4].running_mean = (t.flatten() for t in torch.var_mean(second, dim=(0, 2, 3), correction=0))
    prior = BatchNormStatistics(net)
    with prior.recording():
        net(images)
    assert prior.layers_recorded == 2
    energy = prior.energy()
    assert energy[0].abs() < 1e-4 and energy[1] > 0.01


def test_the_first_bn_layer_weighs_ten_times_and_batch_statistics_are_shared():
    net = small_bn_net()
    prior = BatchNormStatistics(net)
    assert list(prior.weights.values()) == [FIRST_BN_MULTIPLIER, 1.0]
    with pytest.raises(ValueError, match="no batch-norm layer named 'nope'"):
        BatchNormStatistics(net, {"nope": 1.0})
    batch = BatchNormStatistics(net, statistics="batch")
    with batch.recording():
        net(torch.rand(3, 3, 16, 16))
    values = batch.energy()
    assert values.shape == (3,) and torch.allclose(values, values[0].expand(3))
    with pytest.raises(RuntimeError, match="no batch-norm statistics recorded"):
        batch.energy()


def test_the_prior_gradient_agrees_with_finite_differences():
    net = small_bn_net(torch.float64)
    prior = BatchNormStatistics(net)
    term = WithBatchNormPrior(lambda x: net(x).sum(1) * 0.0, prior, 1.0)
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(2)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda images: term(images), (x,), eps=1e-6, atol=1e-5)


def test_hooks_see_only_the_bn_layers_up_to_the_target_one_pass_shared():
    net = load_network("torchvision/resnet18", "random", seed=0)
    assert len(batchnorm_layers(net)) == 20
    prior = BatchNormStatistics(net)
    calls = []
    handle = net.model.conv1.register_forward_hook(lambda *a: calls.append(1))
    try:
        with prior.recording():
            net.features(torch.rand(1, 3, 64, 64), "layer1")
    finally:
        handle.remove()
    assert prior.layers_recorded == 1 + 4 and len(calls) == 1  # bn1 and layer1's four, in one pass
    images = torch.rand(1, 3, 64, 64)
    past = NormalisedFeatureLoss.from_images(
        net, {"layer1": 1.0}, images, run_to=net.logits_layer, execution=Execution(fold_batchnorm=False)
    )
    with prior.recording():
        past(images)
    assert prior.layers_recorded == 20  # run on to the logits: every BN layer
    folded = NormalisedFeatureLoss.from_images(net, {"layer1": 1.0}, images)  # the default folds BN away: refused, one line
    with pytest.raises(ValueError, match="folded or compiled"):
        WithBatchNormPrior(folded, prior, 0.01)


def test_a_natural_photo_fits_efficientnets_stored_statistics_better_than_noise(photo_crops):
    net = load_network("efficientnet_lite0")
    prior = BatchNormStatistics(net)
    noise = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with prior.recording():
        net.features(torch.cat([photo_crops[:4], noise]), "block8")
    energy = prior.energy()
    assert energy[:4].max() < energy[4:].min()
