"""Texture synthesis from a synthetic stationary image: the texture's Gram matrices match the image's
to within 10 % at every layer (noise: 3 times as far at least), and it is not the image itself. Style
transfer without style is the inversion of the content; with it, the style's statistics come nearer."""

from __future__ import annotations

import math

import pytest
import torch

from deeprestore.inversion import StatisticsLoss, invert, synthesise_texture, transfer_style
from deeprestore.nets import load_network


def stationary_image(size: int = 32) -> torch.Tensor:
    """Colour stripes at two orientations and frequencies plus white noise: a stationary texture, ``1×3×size×size``."""
    g = torch.Generator().manual_seed(0)
    y, x = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32), indexing="ij")
    stripes = torch.stack([torch.sin(2 * math.pi * (x / 6 + 0.3 * c)) + 0.6 * torch.sin(2 * math.pi * (x + y) / 9 + c) for c in range(3)])
    return (0.5 + 0.2 * stripes + 0.05 * torch.randn(3, size, size, generator=g)).clamp(0, 1)[None]


def test_a_texture_matches_the_gram_matrices_of_a_stationary_image():
    net = load_network("efficientnet_lite0")
    image, layers = stationary_image(), ["stem", "block1", "block2"]
    result = synthesise_texture(net, image, layers, "gram", iterations_scale=1.0, progress=False)
    measure = StatisticsLoss.from_images(net, dict.fromkeys(layers, 1.0), image)
    with torch.no_grad():
        found = measure.relative_errors(result.images.clamp(0, 1))
        noise = measure.relative_errors(torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1)))
    assert all(float(found[layer]) < 0.1 for layer in layers), {k: float(v) for k, v in found.items()}
    assert all(float(noise[layer]) > 3 * float(found[layer]) for layer in layers)
    assert float((result.images.clamp(0, 1) - image).pow(2).mean().sqrt()) > 0.05  # a new image, not a copy


def test_a_layer_of_vectors_is_refused():
    with pytest.raises(ValueError, match="fc gives vectors"):
        synthesise_texture(load_network("efficientnet_lite0"), stationary_image(), ["fc"], progress=False)


def test_style_transfer_without_style_is_inverting_the_content_and_with_it_takes_the_style(photo_crops):
    net = load_network("efficientnet_lite0")
    content, style = photo_crops[:1, :, :32, :32], stationary_image()
    plain = invert(net, content, ["block2"], iterations_scale=0.2, progress=False).images
    unstyled = transfer_style(net, content, style, "block2", ["stem", "block1"], style_weight=0.0, iterations_scale=0.2, progress=False)
    assert torch.equal(unstyled.images, plain)
    styled = transfer_style(net, content, style, "block2", ["stem", "block1"], style_weight=10.0, iterations_scale=0.2, progress=False)
    measure = StatisticsLoss.from_images(net, {"stem": 1.0, "block1": 1.0}, style)
    with torch.no_grad():
        before, after = measure.relative_errors(plain.clamp(0, 1)), measure.relative_errors(styled.images.clamp(0, 1))
    assert all(float(after[layer]) < 0.5 * float(before[layer]) for layer in ("stem", "block1"))
    with pytest.raises(ValueError, match="one style image per content image"):
        transfer_style(net, photo_crops[:2, :, :32, :32], style, "block2", ["stem"], progress=False)
