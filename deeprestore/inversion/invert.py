"""Invert a network's representation of a batch of images with a preset: the one-call API.

Example::

    from deeprestore.nets import load_network
    from deeprestore.inversion import invert
    net = load_network("efficientnet_lite0")
    result = invert(net, images, layers=["block3"], preset="mv2016")
    result.images        # N×3×H×W reconstructions
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import Tensor

from deeprestore.inversion.engine import InversionResult, minimise
from deeprestore.inversion.feature_loss import NormalisedFeatureLoss
from deeprestore.inversion.optimizers import stepper_factory
from deeprestore.inversion.presets import Preset, get_preset
from deeprestore.nets.layered_network import LayeredNetwork
from deeprestore.priors.units import B, from_mv_units


def mv_noise(shape: Sequence[int], seed: int, device: torch.device | str = "cpu") -> Tensor:
    """M&V 2016's start: uniform noise in [−1, 1], divided by its 95th percentile of |·| and
    scaled to B/√3 (in M&V units), returned in library units. ``shape`` is ``N×3×H×W``."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(tuple(shape), generator=generator) * 2 - 1
    scale = noise.abs().flatten(1).quantile(0.95, dim=1).view(-1, 1, 1, 1)
    mv = noise / scale * (B / 3**0.5)
    return from_mv_units(mv).to(device)


def layer_stride(net: LayeredNetwork, layer: str, size: tuple[int, int]) -> float | None:
    """Stride of ``layer`` for an input of ``size`` (``None`` for vector layers)."""
    shape = net.output_shape(layer, size)
    return size[0] / shape[-2] if len(shape) == 3 else None


def invert(
    net: LayeredNetwork,
    images: Tensor,
    layers: Sequence[str],
    preset: str | Preset = "mv2016",
    *,
    layer_weights: dict[str, float] | None = None,
    init: Tensor | None = None,
    iterations_scale: float = 1.0,
    seed: int = 0,
    progress: bool = True,
) -> InversionResult:
    """Reconstruct ``images`` (``N×3×H×W`` in [0, 1]) from their features at ``layers``.

    Args:
        net: the frozen network.
        images: the images whose representation is inverted (only their features are used).
        layers: one or several target layers.
        preset: a preset name or object.
        layer_weights: ``C`` per layer (default: the preset's C for each layer's stride and the network).
        init: starting images (default: the preset's noise, seeded).
        iterations_scale: multiplies every phase's iterations (quick runs, benchmarks).
        seed: seed of the initial noise and the jitter.
    """
    preset = get_preset(preset) if isinstance(preset, str) else preset
    size = (images.shape[-2], images.shape[-1])
    strides = {layer: layer_stride(net, layer, size) for layer in layers}
    deepest = max(layers, key=net.index)
    weights = layer_weights or {layer: preset.data_weight(strides[layer], net.name) for layer in layers}
    data = NormalisedFeatureLoss.from_images(net, weights, images)
    phases = preset.phases(strides[deepest])
    if iterations_scale != 1.0:
        phases = [replace(p, iterations=max(1, round(p.iterations * iterations_scale))) for p in phases]
    start = init if init is not None else mv_noise(images.shape, seed, images.device)
    return minimise(
        data,
        start,
        stepper_factory(preset.optimizer),
        phases,
        priors=preset.priors(strides[deepest]),
        seed=seed,
        progress=progress,
        description=f"{preset.name} {'+'.join(layers)}",
    )


__all__ = ["invert", "layer_stride", "mv_noise"]
