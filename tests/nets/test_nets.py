"""Network zoo: canonical names, truncated features equal torchvision's forward, weights."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
import torch
import torch.nn.functional as F
from torchvision import models

from deeprestore.nets import alexnet, efficientnet_lite0, load_network, vgg16
from deeprestore.nets.alexnet_vgg16 import ALEXNET_LAYERS, VGG16_LAYERS


def photo(name: str, size: int = 224) -> torch.Tensor:
    """A scikit-image photo as a 1×3×size×size tensor in [0, 1] (centre square, resized)."""
    img = getattr(skimage.data, name)()
    h, w = img.shape[:2]
    s = min(h, w)
    img = img[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def test_canonical_layer_names():
    assert alexnet(weights="random").layer_names == (
        "conv1 relu1 pool1 conv2 relu2 pool2 conv3 relu3 conv4 relu4 conv5 relu5 pool5 fc6 relu6 fc7 relu7 fc8".split()
    )
    names = vgg16(weights="random").layer_names
    assert names[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert names == VGG16_LAYERS and len(names) == 13 * 2 + 5 + 5
    assert names[-7:] == ["relu5_3", "pool5", "fc6", "relu6", "fc7", "relu7", "fc8"]
    assert names[names.index("pool3") + 1 : names.index("pool4")] == ["conv4_1", "relu4_1", "conv4_2", "relu4_2", "conv4_3", "relu4_3"]
    lite = efficientnet_lite0(weights="random").layer_names
    assert lite == ["stem"] + [f"block{i}" for i in range(1, 17)] + ["head", "pool", "fc"]


@pytest.mark.parametrize(
    "builder, tv_builder, cut, layer",
    [
        (alexnet, models.alexnet, 4, "conv2"),
        (alexnet, models.alexnet, 8, "relu3"),
        (alexnet, models.alexnet, 13, "pool5"),
        (vgg16, models.vgg16, 10, "pool2"),
        (vgg16, models.vgg16, 31, "pool5"),
    ],
)
def test_truncated_features_equal_torchvision(builder, tv_builder, cut, layer):
    ours = builder(weights="random", seed=3)
    with torch.random.fork_rng():
        torch.manual_seed(3)
        theirs = tv_builder(weights=None).eval()
    x = torch.rand(2, 3, 96, 96)
    expected = theirs.features[:cut](ours.normalize(x))
    got = ours.features(x, layer)[layer]
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


@pytest.mark.parametrize("builder, tv_builder", [(alexnet, models.alexnet), (vgg16, models.vgg16)])
def test_logits_and_fc_layers_equal_torchvision(builder, tv_builder):
    ours = builder(weights="random", seed=1)
    with torch.random.fork_rng():
        torch.manual_seed(1)
        theirs = tv_builder(weights=None).eval()
    x = torch.rand(2, 3, 112, 112)
    z = ours.normalize(x)
    torch.testing.assert_close(ours(x), theirs(z), rtol=0, atol=0)
    feats = ours.features(x, ["fc6", "relu7"])
    flat = torch.flatten(theirs.avgpool(theirs.features(z)), 1)
    c = theirs.classifier
    fc6 = c[1](flat) if builder is alexnet else c[0](flat)
    torch.testing.assert_close(feats["fc6"], fc6, rtol=0, atol=0)
    relu7 = c[:6](flat) if builder is alexnet else c[:5](flat)
    torch.testing.assert_close(feats["relu7"], relu7, rtol=0, atol=0)


def test_extraction_stops_at_deepest_layer_and_keeps_order():
    net = alexnet(weights="random")
    called = []
    for name, stage in net.stages.items():
        stage.register_forward_hook(lambda *_, name=name: called.append(name))
    out = net.features(torch.rand(1, 3, 64, 64), ["pool2", "conv1"])
    assert list(out) == ["pool2", "conv1"]
    assert called == ALEXNET_LAYERS[: ALEXNET_LAYERS.index("pool2") + 1]


def test_unknown_layer_lists_valid_names():
    net = alexnet(weights="random")
    with pytest.raises(ValueError, match="valid layers: conv1, relu1, pool1"):
        net.features(torch.rand(1, 3, 64, 64), "conv9")
    with pytest.raises(ValueError, match="the zoo has: alexnet, vgg16, efficientnet_lite0"):
        load_network("resnet50")


def test_missing_pretrained_weights_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        load_network("vgg16")
    message = str(err.value)
    assert str(tmp_path / "hub" / "checkpoints" / "vgg16-397923af.pth") in message
    assert "download.pytorch.org/models/vgg16-397923af.pth" in message and "weights=" in message


def test_weights_from_hub_cache_and_from_path(tmp_path, monkeypatch):
    reference = models.alexnet(weights=None)
    state = reference.state_dict()
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(state, cache / "alexnet-owt-7be5be79.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    x = torch.rand(1, 3, 64, 64)
    expected = reference.eval()(alexnet(weights="random").normalize(x))
    torch.testing.assert_close(load_network("alexnet")(x), expected)
    torch.save(state, tmp_path / "mine.pth")
    torch.testing.assert_close(load_network("alexnet", weights=str(tmp_path / "mine.pth"))(x), expected)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_network("alexnet", weights=str(tmp_path / "nope.pth"))


def test_efficientnet_lite0_real_weights_classify_photos():
    net = load_network("efficientnet_lite0")
    assert "efficientnet-lite0-57934424.pth" in net.weights
    logits = net(torch.cat([photo("coffee"), photo("chelsea")]))
    top1 = logits.argmax(1).tolist()
    assert top1[0] == 967, "coffee() should be espresso (ImageNet class 967)"
    assert 281 <= top1[1] <= 285, "chelsea() should be a cat (ImageNet classes 281-285)"
    assert logits.softmax(1)[0, 967] > 0.5


def test_random_weights_are_seeded_and_not_pretrained():
    a, b = efficientnet_lite0(weights="random", seed=5), efficientnet_lite0(weights="random", seed=5)
    pretrained = efficientnet_lite0()
    x = torch.rand(1, 3, 64, 64)
    torch.testing.assert_close(a(x), b(x))
    assert not torch.allclose(a(x), pretrained(x))


def test_layer_table_shapes_and_strides():
    rows = {r.name: r for r in efficientnet_lite0(weights="random").layer_table(224)}
    assert rows["stem"].shape == (32, 112, 112) and rows["stem"].stride == 2
    assert rows["block3"].shape == (24, 56, 56)
    assert rows["block16"].shape == (320, 7, 7) and rows["block16"].stride == 32
    assert rows["pool"].shape == (1280,) and rows["pool"].stride is None
    rows = {r.name: r for r in alexnet(weights="random").layer_table(227)}
    assert rows["relu1"].shape == (64, 56, 56) and rows["pool5"].shape == (256, 6, 6) and rows["fc8"].shape == (1000,)
    assert "block3" in efficientnet_lite0(weights="random").describe(128)


def test_network_is_frozen_and_stays_in_eval_mode():
    net = efficientnet_lite0(weights="random")
    net.train()
    assert not net.training and not any(p.requires_grad for p in net.parameters())


def test_features_of_a_layer_are_not_overwritten_by_later_in_place_layers():
    net = alexnet(weights="random")
    feats = net.features(torch.rand(2, 3, 96, 96), ["conv1", "relu1", "fc6", "relu6"])
    assert (feats["conv1"] < 0).any() and (feats["fc6"] < 0).any()
    torch.testing.assert_close(feats["relu1"], feats["conv1"].relu())
    torch.testing.assert_close(feats["relu6"], feats["fc6"].relu())
