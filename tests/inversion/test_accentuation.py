"""Feature accentuation (Hamblin et al. 2024) on EfficientNet-Lite0: it starts at the photo, raises
the unit while the penalty holds it near the photo, and refuses bad input in one line."""

from __future__ import annotations

import pytest
import torch

from deeprestore.inversion import SeedDistance, accentuate, get_preset, unit_activation
from deeprestore.nets import load_network


@pytest.fixture(scope="module")
def net():
    return load_network("efficientnet_lite0")


def test_zero_steps_return_the_photo_itself(net, photo_crops):
    photo = photo_crops[[0, 20]]
    result = accentuate(net, "fc", 291, photo, "class", steps=0, progress=False, attribution=True)
    assert torch.equal(result.images, photo) and result.images.data_ptr() != photo.data_ptr()
    assert result.history.shape == (0, 2) and torch.equal(result.attribution, torch.zeros_like(photo))


def test_accentuation_raises_the_unit_and_the_penalty_holds_the_photo(net, photo_crops):
    photo = photo_crops[[5]]
    with torch.no_grad():
        before = unit_activation(net.features(photo, "block4")["block4"], "channel", 7)
    distances = []
    for penalty in (0.0, 100.0):
        result = accentuate(net, "block4", 7, photo, "channel", penalty=penalty, steps=8, progress=False, attribution=True)
        with torch.no_grad():
            after = unit_activation(net.features(result.images, "block4")["block4"], "channel", 7)
        assert after > before, (penalty, before, after)
        distances.append(float((result.images - photo).pow(2).mean()))
        assert result.attribution.shape == photo.shape and (result.attribution >= 0).all() and result.attribution.sum() > 0
    assert distances[1] < distances[0] / 2, distances  # the pull towards the photo keeps it closer


def test_the_seed_distance_in_pixels_and_at_a_layer(net, photo_crops):
    seeds = photo_crops[:2]
    moved = seeds.clone()
    moved[1] = 0.5
    pixels = SeedDistance(seeds)
    expected = (moved[1] - seeds[1]).pow(2).sum() / seeds[1].pow(2).sum()
    torch.testing.assert_close(pixels(moved), torch.stack([torch.tensor(0.0), expected]))
    features = SeedDistance(seeds, net, "block2")
    with torch.no_grad():
        f0, f1 = (net.features(x, "block2")["block2"].flatten(1) for x in (seeds, moved))
    torch.testing.assert_close(features(moved), (f1 - f0).pow(2).sum(1) / f0.pow(2).sum(1), atol=1e-5, rtol=1e-4)
    assert features.name == "seed-distance(block2)" and pixels.name == "seed-distance(pixels)"
    assert get_preset("accentuation").parameterisation == "fourier+colour" and get_preset("accentuation").optimizer == "nadam"


def test_bad_input_is_one_line(net, photo_crops):
    photo = photo_crops[:1]
    for call, match in (
        (lambda: accentuate(net, "fc", 1, photo[0], "class", steps=1, progress=False), "must be a 4-D N×C×H×W tensor"),
        (lambda: accentuate(net, "fc", 1, photo[:, :2], "class", steps=1, progress=False), "must have 3 channels"),
        (lambda: accentuate(net, "fc", 1, photo * 255, "class", steps=1, progress=False), r"divide by 255"),
        (lambda: accentuate(net, "fc", 1, photo, "class", penalty=-1.0, progress=False), "penalty must be non-negative"),
        (lambda: accentuate(net, "fc", 1, photo, "class", steps=-1, progress=False), "steps must be a non-negative"),
        (lambda: accentuate(net, "fc", 1, photo, "channel", steps=1, progress=False), "channel maximisation needs a map-shaped layer"),
        (lambda: accentuate(net, "block99", 1, photo, steps=1, progress=False), "unknown layer .block99."),
        (lambda: accentuate(net, "fc", 1, photo, "class", reg_layer="nowhere", steps=1, progress=False), "nowhere"),
        (lambda: accentuate(net, "fc", 1, photo, "class", preset="magnitude", progress=False), "unknown preset 'magnitude'"),
    ):
        with pytest.raises(ValueError, match=match) as error:
            call()
        assert "\n" not in str(error.value), str(error.value)
