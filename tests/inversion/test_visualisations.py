"""Activation maximisation and caricaturisation (M&V 2016) through the real network and engine."""

from __future__ import annotations

import pytest
import torch

from deeprestore.inversion import caricature, maximise_activation, mv_noise, unit_activation
from deeprestore.inversion.seeds import index_seeds
from deeprestore.nets import load_network


@pytest.fixture(scope="module")
def net():
    return load_network("efficientnet_lite0")


def test_class_maximisation_makes_the_network_see_that_class(net):
    result = maximise_activation(net, "fc", 967, "class", num_images=2, size=(96, 96), iterations_scale=0.3, progress=False)
    logits = net(result.images.clamp(0, 1))
    assert logits.argmax(1).tolist() == [967, 967]  # espresso
    assert (logits[:, 967] > net(mv_noise((2, 3, 96, 96), index_seeds(2, 0)))[:, 967] + 10).all()


def test_channel_and_neuron_maximisation_raise_the_unit(net):
    start = mv_noise((2, 3, 64, 64), index_seeds(2, 0))
    for kind, unit in (("channel", 5), ("neuron", (5, 4, 4))):
        result = maximise_activation(net, "block4", unit, kind, num_images=2, size=(64, 64), iterations_scale=0.2, progress=False)
        before = unit_activation(net.features(start, "block4")["block4"], kind, unit)
        after = unit_activation(net.features(result.images, "block4")["block4"], kind, unit)
        assert (after > before + 5).all(), (kind, before, after)


def test_caricature_exaggerates_what_the_layer_sees(photo_crops, net):
    images = photo_crops[[0, 20]]
    result = caricature(net, images, "block3", iterations_scale=0.2, progress=False)
    target = net.features(images, "block3")["block3"].flatten(1)
    got = net.features(result.images, "block3")["block3"].flatten(1)
    projection = (got * target).sum(1) / target.pow(2).sum(1)
    assert (projection > 1.1).all(), projection


def test_unit_errors_are_clear():
    with pytest.raises(ValueError, match="kind must be one of"):
        unit_activation(torch.zeros(1, 4, 2, 2), "pixel", 0)
    with pytest.raises(ValueError, match="map-shaped"):
        unit_activation(torch.zeros(1, 10), "channel", 0)
    with pytest.raises(ValueError, match="vector layer"):
        unit_activation(torch.zeros(1, 4, 2, 2), "class", 0)
