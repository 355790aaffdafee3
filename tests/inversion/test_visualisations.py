"""Activation maximisation and caricaturisation (M&V 2016) through the real network and engine."""

from __future__ import annotations

import pytest
import torch

from deeprestore.inversion import (
    caricature,
    gram_diversity,
    maximise_activation,
    maximise_units,
    mv_noise,
    unit_activation,
    unit_activations,
)
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


def test_one_image_per_unit_in_one_batch_is_each_unit_alone(net):
    """Lucid's batched objective: image i maximises channel i; without diversity each image is its
    own problem, so image 1 of the batch is the run of its unit alone from the same start stream."""
    units = [3, 5, 7]
    batch = maximise_units(net, "block4", units, "channel", size=(64, 64), iterations_scale=0.1, progress=False)
    with torch.no_grad():
        means = net.features(batch.images, "block4")["block4"][:, units].mean((-2, -1))
    assert (means.diagonal() > means.max(0).values - 1e-6).all() and (means.diagonal() > 0).all(), means  # each its own unit's best
    alone = maximise_units(net, "block4", units[:2], "channel", size=(64, 64), iterations_scale=0.1, progress=False)
    torch.testing.assert_close(alone.images[1], batch.images[1], atol=1e-4, rtol=0)
    maps = torch.arange(36.0).view(3, 3, 2, 2)
    torch.testing.assert_close(unit_activations(maps, "channel", [0, 1, 2]), maps[[0, 1, 2], [0, 1, 2]].mean((-2, -1)))


def test_the_diversity_term_makes_images_of_one_unit_differ(net):
    common = dict(size=(64, 64), iterations_scale=0.1, progress=False)
    plain = maximise_activation(net, "block4", 5, num_images=3, **common)
    diverse = maximise_activation(net, "block4", 5, num_images=3, diversity=5.0, diversity_layer="block2", **common)
    with torch.no_grad():
        spread = [float(gram_diversity(net.features(r.images, "block2")["block2"]).mean()) for r in (plain, diverse)]
    assert spread[1] > 1.5 * spread[0], spread
    with pytest.raises(ValueError, match="units is empty"):
        maximise_units(net, "block4", [], **common)
    with pytest.raises(ValueError, match="diversity must be 0"):
        maximise_activation(net, "block4", 5, diversity=-1.0, **common)
    with pytest.raises(ValueError, match="is a vector"):
        maximise_activation(net, "fc", 1, "class", num_images=2, diversity=1.0, **common)
