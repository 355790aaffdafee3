"""LPIPS and DISTS (deeprestore.metrics.perceptual).

The backbones' ImageNet weights are the user's files, absent here: every test below builds the
metrics with ``weights="random"`` (a seeded random backbone, the heads / α, β shipped with
torchmetrics) and so tests the plumbing only — shapes, zero on identical images, growth with
noise, agreement with torchmetrics' own implementation given the same backbone, the files looked
for and the one-line message when they are absent. No value here says anything about perception.
"""

from __future__ import annotations

import copy
import types

import pytest
import torch
import torchmetrics.functional.image.dists as tm_dists
import torchmetrics.functional.image.lpips as tm_lpips
from torchmetrics.image import LearnedPerceptualImagePatchSimilarity

from deeprestore.metrics import PERCEPTUAL_METRICS, missing_weights, perceptual_column, perceptual_metric

NOISE = (0.05, 0.1, 0.2)


@pytest.fixture(scope="module")
def metrics():
    """Each metric with a random backbone (plumbing only)."""
    return {name: perceptual_metric(name, weights="random") for name in PERCEPTUAL_METRICS}


def noisy(images: torch.Tensor, sigma: float) -> torch.Tensor:
    return (images + sigma * torch.randn(images.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)


@pytest.mark.parametrize("name", PERCEPTUAL_METRICS)
def test_zero_on_the_image_itself_and_growing_with_noise(metrics, photo_crops, name):
    """Random weights: plumbing only (a distance, per image, monotone in the noise here)."""
    images = photo_crops[:4, :, :48, :48]
    metric = metrics[name]
    itself = metric(images, images)
    assert itself.shape == (4,) and itself.dtype == torch.float32
    assert itself.abs().max() <= 1e-6
    distances = torch.stack([metric(noisy(images, s), images) for s in NOISE])  # noise level × image
    assert (distances[0] > 0).all()
    assert (distances[1:] > distances[:-1]).all(), distances


@pytest.mark.parametrize(("name", "net_type"), [("lpips-alex", "alex"), ("lpips-vgg", "vgg")])
def test_lpips_equals_torchmetrics_given_the_same_random_backbone(metrics, photo_crops, monkeypatch, name, net_type):
    """An independent check of the formula (random backbone: plumbing only): torchmetrics' LPIPS,
    its backbone replaced by ours, gives the same per-image values; its heads are its own file."""
    ours = metrics[name]
    monkeypatch.setattr(tm_lpips, "_get_tv_model_features", lambda net, pretrained=False: copy.deepcopy(ours.features))
    images = photo_crops[:3, :, :48, :48]
    recon = noisy(images, 0.1)
    expected = tm_lpips.learned_perceptual_image_patch_similarity(recon, images, net_type=net_type, reduction="none", normalize=True)
    torch.testing.assert_close(ours(recon, images), expected, rtol=1e-5, atol=1e-7)
    module = LearnedPerceptualImagePatchSimilarity(net_type=net_type, reduction="sum", normalize=True)
    torch.testing.assert_close(ours(recon, images).sum(), module(recon, images), rtol=1e-5, atol=1e-7)


def test_dists_equals_torchmetrics_given_the_same_random_backbone(metrics, photo_crops, monkeypatch):
    """An independent check of the formula (random backbone: plumbing only): torchmetrics'
    DISTSNetwork with our backbone and our α, β (its loader maps its file to CUDA, so they are set here)."""
    ours = metrics["dists"]
    features = copy.deepcopy(ours.features)
    monkeypatch.setattr(tm_dists, "vgg16", lambda weights=None: types.SimpleNamespace(features=features))
    theirs = tm_dists.DISTSNetwork(load_weights=False)
    theirs.alpha.data, theirs.beta.data = ours.alpha.clone(), ours.beta.clone()
    images = photo_crops[:3, :, :48, :48]
    recon = noisy(images, 0.1)
    torch.testing.assert_close(ours(recon, images), theirs(recon, images).detach(), rtol=1e-5, atol=1e-6)


def test_a_missing_backbone_is_one_line_naming_the_file(tmp_path, monkeypatch, photo_crops):
    """An empty torch hub cache: the pretrained metrics name the file; random weights (plumbing only) still build."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    expected = tmp_path / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    assert missing_weights("lpips-alex") == [expected]
    assert missing_weights("dists") == [tmp_path / "hub" / "checkpoints" / "vgg16-397923af.pth"]
    with pytest.raises(FileNotFoundError) as error:
        perceptual_metric("lpips-alex")
    message = str(error.value)
    assert "\n" not in message and str(expected) in message and message.startswith("lpips-alex needs torchvision's AlexNet")
    assert "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth" in message
    with pytest.raises(FileNotFoundError, match="dists needs torchvision's VGG16 ImageNet weights at .*vgg16-397923af.pth"):
        perceptual_metric("dists")
    assert perceptual_metric("lpips-alex", weights="random")(photo_crops[:1], photo_crops[:1]).shape == (1,)


def test_a_backbone_file_in_the_cache_is_read_as_data(tmp_path, monkeypatch, photo_crops):
    """The loader, on a torchvision-layout state dict put in a temporary cache (the random
    backbone's, so plumbing only): the metric equals the random one; a file of another network is one line."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    random = perceptual_metric("lpips-alex", weights="random", seed=3)
    state = {f"features.{k}": v for k, v in random.features.state_dict().items()} | {"classifier.6.bias": torch.zeros(1000)}
    torch.save(state, cache / "alexnet-owt-7be5be79.pth")
    read = perceptual_metric("lpips-alex")
    assert read.source == str(cache / "alexnet-owt-7be5be79.pth")
    images = photo_crops[:2, :, :40, :40]
    torch.testing.assert_close(read(noisy(images, 0.1), images), random(noisy(images, 0.1), images))
    torch.save({"features.0.weight": torch.zeros(3)}, cache / "alexnet-owt-7be5be79.pth")
    with pytest.raises(ValueError, match=r"does not hold torchvision's AlexNet weights \(features.0.weight"):
        perceptual_metric("lpips-alex")


def test_names_columns_and_bad_input(metrics, photo_crops):
    assert [perceptual_column(n) for n in PERCEPTUAL_METRICS] == ["lpips_alex", "lpips_vgg", "dists"]
    with pytest.raises(ValueError, match="unknown perceptual metric 'lpips-squeeze'; choose from lpips-alex, lpips-vgg, dists"):
        perceptual_metric("lpips-squeeze")
    with pytest.raises(ValueError, match="'pretrained' or 'random'"):
        perceptual_metric("dists", weights="imagenet")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lpips-alex needs images of at least 31×31 pixels"):
        metrics["lpips-alex"](photo_crops[:1, :, :24, :24], photo_crops[:1, :, :24, :24])
    with pytest.raises(ValueError, match="RGB"):
        metrics["dists"](photo_crops[:1, :1], photo_crops[:1, :1])
