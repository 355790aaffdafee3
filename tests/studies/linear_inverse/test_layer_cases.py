"""The study's layers: a random convolution, Lite0's real modules with their inputs on photos, and bad cases."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from deeprestore.nets import load_network
from deeprestore.studies.linear_inverse.layer_cases import LayerCase, build_layer, random_patches

STEM = ["stages.stem.0", "stages.stem.1"]


def test_a_random_case_is_the_convolution_it_names():
    layer = build_layer(LayerCase(kernel=5, stride=2, channels=7, size=8), seed=3)
    conv = layer.linear[0]
    assert layer.grid.image == (3, 8, 8) and layer.grid.features == (7, 4, 4) and layer.grid.stride == 2 and layer.kernel == 5
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    assert torch.allclose(layer.features(x), F.conv2d(x, conv.weight, None, 2, 2).reshape(2, -1))
    circular = build_layer(LayerCase(kernel=5, stride=2, channels=7, size=8, boundary="circular"), seed=3)
    expected = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="circular"), conv.weight, None, 2)
    assert circular.grid.circular and torch.allclose(circular.features(x), expected.reshape(2, -1))


def test_lite0s_stem_is_its_convolution_and_batch_norm_with_the_normalised_photo_as_input():
    net = load_network("efficientnet_lite0")
    photos = torch.rand(2, 3, 32, 32)
    layer = build_layer(LayerCase(network="efficientnet_lite0", modules=STEM, nonlinearity="relu6", size=8))
    inputs = layer.inputs(photos)
    assert torch.allclose(inputs, net.normalize(photos).double(), atol=1e-6)
    assert torch.allclose(layer.features(inputs).float(), net.features(photos, "stem")["stem"].reshape(2, -1), atol=1e-4)


def test_a_deeper_modules_input_is_what_the_network_gives_it():
    net = load_network("efficientnet_lite0")
    photos = torch.rand(2, 3, 32, 32)
    layer = build_layer(LayerCase(network="efficientnet_lite0", modules=["stages.block1.depthwise_conv", "stages.block1.bn1"], size=6))
    assert layer.grid.image == (32, 6, 6) and layer.grid.features == (32, 6, 6)
    assert torch.allclose(layer.inputs(photos).float(), net.features(photos, "stem")["stem"], atol=1e-5)


def test_patches_are_crops_of_the_maps():
    maps = torch.arange(2 * 3 * 10 * 10, dtype=torch.float64).reshape(2, 3, 10, 10)
    patches = random_patches(maps, 4, 5, torch.Generator().manual_seed(0))
    assert patches.shape == (5, 3, 4, 4)
    for patch in patches:
        image = int(patch[0, 0, 0]) // 300
        top, left = divmod(int(patch[0, 0, 0]) % 100, 10)
        assert torch.equal(patch, maps[image, :, top : top + 4, left : left + 4])
    with pytest.raises(ValueError, match="smaller than the patch size 12"):
        random_patches(maps, 12, 1, torch.Generator())


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (LayerCase(kernel=4), "needs an odd kernel"),
        (LayerCase(network="efficientnet_lite0"), "name the layer's modules"),
        (
            LayerCase(network="efficientnet_lite0", modules=["stages.nosuch"]),
            "has no module 'stages.nosuch'; its convolutions: stages.stem.0",
        ),
        (LayerCase(network="efficientnet_lite0", modules=["stages.stem.1"]), "must be a Conv2d"),
        (LayerCase(stride=2, size=9, boundary="circular"), "a size that is a multiple of the stride 2"),
    ],
)
def test_a_case_that_cannot_run_is_one_clear_error(case, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        build_layer(case)
