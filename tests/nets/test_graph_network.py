"""The open zoo: torchvision/…, timm/…, your own module, and EfficientNet-Lite1/2.

Networks other than EfficientNet-Lite have random weights here (no download is possible): these
tests check the plumbing — names, shapes, features equal to the model's own forward, pruning,
weights files — not what the networks have learned.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from datamodules.evaluation_images import held_out_images
from deeprestore.inversion import invert
from deeprestore.nets import FeatureNetwork, GraphNetwork, load_network, network_from_module
from deeprestore.nets.tokens import patch_grid, tokens_to_grid
from tests.study_runs import QUIET

#: (network, layers, the modules whose forward outputs are those layers)
HOOKED = [
    ("torchvision/resnet18", ["layer1.0", "layer2", "layer3.1.conv2"], ["layer1.0", "layer2", "layer3.1.conv2"]),
    ("torchvision/convnext_tiny", ["features.1", "features.4"], ["features.1", "features.4"]),
    (
        "torchvision/vit_b_16",
        ["encoder.layers.encoder_layer_2", "encoder.layers.encoder_layer_5"],
        ["encoder.layers.encoder_layer_2", "encoder.layers.encoder_layer_5"],
    ),
]


@pytest.fixture(scope="module")
def nets() -> dict[str, FeatureNetwork]:
    return {name: load_network(name, "random", seed=1) for name, _, _ in HOOKED}


def _size(net: FeatureNetwork) -> tuple[int, int]:
    return net.input_size or (96, 96)


@pytest.mark.parametrize("name,layers,modules", HOOKED)
def test_features_equal_the_models_own_forward(nets, name, layers, modules):
    net = nets[name]
    x = torch.rand(2, 3, *_size(net), generator=torch.Generator().manual_seed(0))
    seen: dict[str, torch.Tensor] = {}
    handles = [net.model.get_submodule(m).register_forward_hook(lambda mod, args, out, m=m: seen.__setitem__(m, out)) for m in modules]
    try:
        logits = net.model(net.normalize(x))
    finally:
        for h in handles:
            h.remove()
    feats = net.features(x, layers)
    for layer, module in zip(layers, modules):
        expected = tokens_to_grid(seen[module], _size(net)) if seen[module].ndim == 3 else seen[module]
        torch.testing.assert_close(feats[layer], expected)
    torch.testing.assert_close(net(x), logits)


def test_vit_tokens_come_back_on_their_grid_or_as_tokens(nets):
    net = nets["torchvision/vit_b_16"]
    x = torch.rand(1, 3, 224, 224)
    grid = net.features(x, "encoder.layers.encoder_layer_0")["encoder.layers.encoder_layer_0"]
    assert grid.shape == (1, 768, 14, 14)
    raw = GraphNetwork(
        "vit", net.model, net.mean.flatten().tolist(), net.std.flatten().tolist(), "random", token_layout="tokens", input_size=(224, 224)
    )
    tokens = raw.features(x, "encoder.layers.encoder_layer_0")["encoder.layers.encoder_layer_0"]
    assert tokens.shape == (1, 197, 768)
    torch.testing.assert_close(grid[0, :, 2, 5], tokens[0, 1 + 14 * 2 + 5])  # class token dropped, patch (i, j) = token 1 + 14 i + j
    assert patch_grid(197, (224, 224)) == (1, 14, 14) and patch_grid(1000, (224, 224)) is None
    with pytest.raises(ValueError, match="224×224 images only"):
        net.features(torch.rand(1, 3, 128, 128), "encoder")


def test_describe_lists_chain_points_with_shapes(nets):
    text = nets["torchvision/resnet18"].describe(96)
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines()[2:]}
    assert rows["layer2"] == ["Sequential", "128×12×12", "8"]
    assert rows["layer1.0"][0] == "BasicBlock" and rows["fc"][:2] == ["Linear", "1000"]
    assert "layer1.0.conv1" not in rows, "inside a residual block is not a chain point"
    vit = nets["torchvision/vit_b_16"].layer_names
    assert "encoder.layers.encoder_layer_7" in vit and vit[-1] == "heads"


def test_a_layer_runs_only_what_it_needs(nets):
    net = nets["torchvision/resnet18"]
    x = torch.rand(1, 3, 64, 64)
    net.features(x, "layer2")  # builds (traces) the pruned extractor
    calls: list[str] = []
    leaves = ("layer1.0.conv1", "layer2.1.conv2", "layer3.0.conv1", "layer4.1.conv2", "fc")
    handles = [net.model.get_submodule(m).register_forward_hook(lambda *a, m=m: calls.append(m)) for m in leaves]
    try:
        net.features(x, "layer2")
        assert calls == ["layer1.0.conv1", "layer2.1.conv2"]
        calls.clear()
        net(x)
        assert calls == list(leaves)
    finally:
        for h in handles:
            h.remove()


def test_inplace_operations_do_not_overwrite_returned_features(nets):
    net = nets["torchvision/resnet18"]
    feats = net.features(torch.rand(2, 3, 64, 64), ["bn1", "relu", "layer1.0.add", "layer1.0"])
    assert (feats["bn1"] < 0).any() and (feats["layer1.0.add"] < 0).any()
    torch.testing.assert_close(feats["relu"], feats["bn1"].relu())
    torch.testing.assert_close(feats["layer1.0"], feats["layer1.0.add"].relu())


@pytest.mark.parametrize("name,layer", [("torchvision/resnet18", "layer2"), ("torchvision/vit_b_16", "encoder.layers.encoder_layer_1")])
def test_invert_lowers_its_energy_on_any_network(nets, name, layer):
    net = nets[name]
    x = torch.rand(1, 3, *_size(net), generator=torch.Generator().manual_seed(2))
    result = invert(net, x, [layer], "mv2016", iterations_scale=0.01, progress=False)
    history = result.history[:, 0]
    assert torch.isfinite(history).all() and history[-1] < history[0]


class TinyNet(nn.Module):
    """A small classifier of the kind a user brings: conv → residual block → pooled linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(inplace=True))
        self.head = nn.Linear(8, 5)

    def forward(self, x):
        h = torch.relu(self.conv(x))
        h = h + self.block(h)
        return self.head(h.mean(dim=(2, 3)))


def tiny_net() -> nn.Module:
    """The factory ``tests.nets.test_graph_network:tiny_net`` names."""
    return TinyNet()


def test_a_custom_module_by_object_and_by_name(tmp_path):
    torch.manual_seed(0)
    model = TinyNet()
    net = network_from_module(model, "tiny", mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    assert net.layer_names == ["conv", "relu", "add", "mean", "head"]
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(net(x), model((x - 0.5) / 0.25))
    assert net.features(x, "block.0")["block.0"].shape == (2, 8, 16, 16)  # any node, not only chain points
    with pytest.raises(ValueError, match="chain points: conv, relu, add, mean, head"):
        net.check_layer("nope")
    torch.save(model.state_dict(), tmp_path / "tiny.pth")
    by_name = load_network("tests.nets.test_graph_network:tiny_net", str(tmp_path / "tiny.pth"))
    torch.testing.assert_close(
        by_name(x), model((x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
    )
    with pytest.raises(ValueError, match="cannot import 'nope'"):
        load_network("tests.nets.test_graph_network:nope")


def test_torchvision_weights_from_the_hub_cache_or_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"resnet18-f37072fd\.pth"):
        load_network("torchvision/resnet18")
    with pytest.raises(ValueError, match="IMAGENET1K_V1"):
        load_network("torchvision/resnet18", "IMAGENET2K")
    random = load_network("torchvision/resnet18", "random", seed=3)
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(random.model.state_dict(), tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth")
    cached = load_network("torchvision/resnet18")
    x = torch.rand(1, 3, 64, 64)
    torch.testing.assert_close(cached(x), random(x))
    assert cached.weights.endswith("resnet18-f37072fd.pth")
    with pytest.raises(ValueError, match="unknown torchvision classification model"):
        load_network("torchvision/resnet19")


def test_timm_models_random_and_from_a_file(tmp_path, monkeypatch):
    timm = pytest.importorskip("timm")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    net = load_network("timm/resnet18", "random", seed=4)
    x = torch.rand(1, 3, 64, 64)
    torch.save(net.model.state_dict(), tmp_path / "r18.pth")
    torch.testing.assert_close(load_network("timm/resnet18", str(tmp_path / "r18.pth"))(x), net(x))
    assert "layer3" in net.layer_names and net.features(x, "layer3")["layer3"].shape == (1, 256, 4, 4)
    vit = load_network("timm/vit_tiny_patch16_224", "random")
    assert vit.input_size == (224, 224) and tuple(vit.mean.flatten().tolist()) == (0.5, 0.5, 0.5)
    assert timm.__version__


def test_efficientnet_lite1_and_lite2_real_weights_classify_the_held_out_photos():
    """Top-1 on the 20 labelled ImageNet photos of the held-out set, at each variant's resolution."""
    for name, size, blocks in (("efficientnet_lite1", 240, 21), ("efficientnet_lite2", 260, 21)):
        net = load_network(name)
        assert f"block{blocks}" in net.layer_names and f"block{blocks + 1}" not in net.layer_names
        data = held_out_images(size)
        imagenet = [i for i, image in enumerate(data.images) if image.source.endswith(".jpg")]
        images = torch.stack([data[i]["image"] for i in imagenet])
        labels = torch.tensor([data.images[i].label for i in imagenet])
        with torch.no_grad():
            correct = int((net(images).argmax(1) == labels).sum())
        assert len(imagenet) == 20 and correct >= 17, f"{name}: top-1 {correct}/20"


def test_every_method_runs_on_a_graph_network(nets, tmp_path):
    """Activation maximisation, caricatures, feature-map statistics and a feature-map prior on
    torchvision's ResNet-18 (random weights: plumbing only)."""
    from deeprestore.inversion import caricature, maximise_activation
    from deeprestore.priors import PatchPriorModule
    from deeprestore.priors.learned_prior import FeatureMapPrior
    from deeprestore.stats.command import main as stats_main

    net = nets["torchvision/resnet18"]
    maximised = maximise_activation(net, "layer2", 3, "channel", size=(48, 48), iterations_scale=0.02, progress=False)
    assert maximised.history[-1, 0] < maximised.history[0, 0]
    images = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(5))
    assert caricature(net, images, "layer3", iterations_scale=0.02, progress=False).images.shape == (1, 3, 48, 48)
    run = stats_main(
        [
            "--net",
            "torchvision/resnet18",
            "--weights",
            "random",
            "--layers",
            "layer2",
            "layer3.1.conv1",
            "--images",
            "2",
            "--crop_size",
            "48",
            "--out",
            str(tmp_path / "stats"),
            "--progress",
            "false",
            "--dpi",
            "30",
        ]
    )
    assert run.results["layer3.1.conv1"].images == 2 and (tmp_path / "stats" / "stats_layer2.json").is_file()
    module = PatchPriorModule(net="torchvision/resnet18", weights="random", layer="layer1", patch_size=3, n_filters=8)
    assert module.maps(images).shape == (1, 64, 12, 12)
    prior = FeatureMapPrior(module.energy, module.net, "layer1")
    x = images.clone().requires_grad_(True)
    prior(x).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_the_inversion_study_on_a_torchvision_network_says_where_c_comes_from(tmp_path):
    import skimage.data
    from PIL import Image

    from deeprestore.studies.cli import main

    Image.fromarray(skimage.data.coffee()[120:168, 260:308]).save(tmp_path / "coffee.png")
    result = main(
        [
            "inversion",
            "--network.name",
            "torchvision/resnet18",
            "--network.weights",
            "random",
            "--images.files",
            str(tmp_path / "coffee.png"),
            "--images.crop_size",
            "48",
            "--network.layers",
            "[]",
            "--optimisation.presets",
            "mv2016",
            "--optimisation.iterations_scale",
            "0.01",
            "--checkpoints",
            "",
            *QUIET,
            "--report_root",
            str(tmp_path),
            "--experiment",
            "r18",
        ]
    )
    layers = ["conv1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4.0", "avgpool"]  # spread over the module layers
    assert [r["layer"] for r in result.rows] == layers
    report = (tmp_path / "r18" / "report.md").read_text()
    assert "mv2016, layer2: C = 100 (stride 8; M&V's AlexNet/VGG ladder by stride: no calibrated table for torchvision/resnet18)" in report


@pytest.mark.parametrize(
    "name,layer,size",
    [
        ("torchvision/resnet18", "layer2", 64),
        ("torchvision/resnet18", "avgpool", 64),
        ("tests.nets.test_graph_network:tiny_net", "add", 32),
    ],
)
def test_a_generic_decoder_trains_through_the_trainer_and_its_loss_falls(photo_crops, name, layer, size):
    """Map, vector and custom-module layers: the decoder is built from the feature shape alone."""
    import lightning as L
    import torch.nn.functional as F
    from torch.utils.data import DataLoader

    from deeprestore.inverters import InvertingNetwork
    from deeprestore.inverters.generic_decoder import GenericDecoder

    crops = F.interpolate(photo_crops[:8], size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    model = InvertingNetwork(net=name, weights="random", layer=layer, mode="generic", probe_size=size, lr=1e-3, grid_images=0)
    assert isinstance(model.chain, GenericDecoder) and model.chain.target == layer

    def image_loss() -> float:
        levels, sizes = model.true_levels(crops)
        with torch.no_grad():
            return float(model.level_losses(levels, sizes)["image"])

    before = image_loss()
    torch.manual_seed(0)
    trainer = L.Trainer(
        max_steps=25, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False
    )
    trainer.fit(model, DataLoader(crops, batch_size=4, shuffle=True))
    after = image_loss()
    assert after < 0.8 * before
    assert model(model.net.features(crops[:2], layer)[layer], (size, size)).shape == (2, 3, size, size)


def test_modular_modes_need_a_network_that_decomposes():
    from deeprestore.inverters import InvertingNetwork

    with pytest.raises(ValueError, match="use mode: generic"):
        InvertingNetwork(net="torchvision/resnet18", weights="random", layer="layer2", mode="joint", probe_size=64)
