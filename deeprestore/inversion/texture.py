"""Texture synthesis: images whose feature-map statistics match a photo's (Gatys, Ecker & Bethge 2015),
and style transfer: one photo's maps at a layer with another's statistics at others (Gatys, Ecker &
Bethge 2016), through the same presets — variable, start, priors, transforms, optimiser — as the
inversion of the maps.

Example::

    from deeprestore.nets import load_network
    from deeprestore.inversion import synthesise_texture
    net = load_network("efficientnet_lite0")
    result = synthesise_texture(net, photos, ["stem", "block1", "block3"], statistic="gram")
    result.images        # N×3×H×W textures, one per photo
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from deeprestore.inversion.engine import InversionResult
from deeprestore.inversion.execution import Execution
from deeprestore.inversion.feature_loss import NormalisedFeatureLoss
from deeprestore.inversion.invert import eager_with_hooks, input_images, layer_stride, run_preset, with_network_priors
from deeprestore.inversion.presets import Preset, get_preset
from deeprestore.inversion.seeds import image_seeds
from deeprestore.inversion.statistics_loss import Statistic, StatisticsLoss
from deeprestore.nets.feature_network import FeatureNetwork

__all__ = ["synthesise_texture", "transfer_style"]


def synthesise_texture(
    net: FeatureNetwork,
    images: Tensor,
    layers: Sequence[str],
    statistic: Statistic = "gram",
    preset: str | Preset = "mv2016",
    *,
    size: tuple[int, int] | None = None,
    layer_weights: dict[str, float] | None = None,
    iterations_scale: float = 1.0,
    seed: int = 0,
    progress: bool = True,
    execution: Execution | None = None,
) -> InversionResult:
    """One image per image of ``images`` (``N×3×H×W`` in [0, 1]) whose ``statistic`` at ``layers`` matches its own
    (:class:`~deeprestore.inversion.statistics_loss.StatisticsLoss`), minimised with the preset's everything else.

    Args:
        size: ``(H, W)`` of the textures (default: the images'; statistics do not depend on the size).
        layer_weights: ``C`` per layer (default: the preset's C for the layer's stride).
        Others: as :func:`~deeprestore.inversion.invert`.

    Raises:
        ValueError: bad images, no layers, a layer without ``C×h×w`` maps, an unknown statistic.
    """
    preset = get_preset(preset) if isinstance(preset, str) else preset
    images = input_images(net, images)
    if not layers or isinstance(layers, str):
        raise ValueError(f"layers must be a non-empty list of layer names, got {layers!r}")
    size = size or (images.shape[-2], images.shape[-1])
    strides = {layer: layer_stride(net, layer, size) for layer in layers}
    vectors = [layer for layer, stride in strides.items() if stride is None]
    if vectors:
        raise ValueError(f"{vectors[0]} gives vectors; a texture statistic needs C×h×w maps")
    weights = layer_weights or {layer: preset.data_weight(strides[layer], net.name) for layer in layers}
    data = StatisticsLoss.from_images(net, weights, images, statistic, eager_with_hooks(preset, execution))
    return run_preset(
        net,
        preset,
        with_network_priors(net, preset, data),
        strides[max(layers, key=net.index)],
        (images.shape[0], 3, *size),
        image_seeds(images, seed),
        iterations_scale=iterations_scale,
        seed=seed,
        progress=progress,
        description=f"{preset.name} {statistic} {'+'.join(layers)}",
    )


def transfer_style(
    net: FeatureNetwork,
    content: Tensor,
    style: Tensor,
    content_layer: str,
    style_layers: Sequence[str],
    style_weight: float = 1.0,
    statistic: Statistic = "gram",
    preset: str | Preset = "mv2016",
    *,
    iterations_scale: float = 1.0,
    seed: int = 0,
    progress: bool = True,
) -> InversionResult:
    """Images with ``content``'s maps at ``content_layer`` and ``style``'s statistics at ``style_layers``
    (Gatys et al. 2016, eq. 7): the data term is the preset's feature loss at ``content_layer`` plus
    ``style_weight`` times the statistics loss, both with the preset's ``C`` for their layers'
    strides. ``content`` and ``style`` are ``N×3×H×W`` in [0, 1] (pairs; sizes may differ); the start
    is seeded on ``content``, so at ``style_weight = 0`` this is :func:`~deeprestore.inversion.invert`."""
    preset = get_preset(preset) if isinstance(preset, str) else preset
    content, style = input_images(net, content), input_images(net, style)
    if len(content) != len(style):
        raise ValueError(f"give one style image per content image, got {len(style)} and {len(content)}")
    size = (content.shape[-2], content.shape[-1])
    stride = layer_stride(net, content_layer, size)
    feature_loss = NormalisedFeatureLoss.from_images(
        net, {content_layer: preset.data_weight(stride, net.name)}, content, execution=eager_with_hooks(preset, None)
    )
    style_size = (style.shape[-2], style.shape[-1])
    weights = {layer: style_weight * preset.data_weight(layer_stride(net, layer, style_size), net.name) for layer in style_layers}
    statistics_loss = StatisticsLoss.from_images(net, weights, style, statistic)

    def data(images: Tensor) -> Tensor:
        return feature_loss(images) + statistics_loss(images)

    deepest = max([content_layer, *style_layers], key=net.index)
    return run_preset(
        net,
        preset,
        with_network_priors(net, preset, data),
        layer_stride(net, deepest, size),
        content.shape,
        image_seeds(content, seed),
        iterations_scale=iterations_scale,
        seed=seed,
        progress=progress,
        description=f"{preset.name} style transfer",
    )
