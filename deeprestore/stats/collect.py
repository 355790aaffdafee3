"""Run a network over batches of images and stream its feature maps into per-layer statistics."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor
from tqdm import tqdm

from deeprestore.nets.feature_network import FeatureNetwork
from deeprestore.stats.layer_stats import LayerStatistics

__all__ = ["collect_statistics", "feature_map_shapes"]


def feature_map_shapes(net: FeatureNetwork, layers: Sequence[str], crop_size: int) -> dict[str, tuple[int, int, int]]:
    """``(C, h, w)`` of each layer for ``crop_size``² inputs.

    Raises:
        ValueError: an unknown layer (the network's message lists the valid ones), or a layer whose
            output is a vector (``pool``, ``fc`` …), which has no spatial covariance.
    """
    for layer in layers:
        net.check_layer(layer)
    shapes = {layer: net.output_shape(layer, crop_size) for layer in layers}
    for layer in layers:
        if len(shapes[layer]) != 3:
            raise ValueError(
                f"layer {layer} of {net.name} outputs a vector {shapes[layer]}, not feature maps; choose a convolutional layer"
            )
    return {layer: tuple(shapes[layer]) for layer in layers}  # type: ignore[misc]


@torch.no_grad()
def collect_statistics(
    net: FeatureNetwork,
    batches: Iterable[Tensor],
    layers: Sequence[str],
    shapes: dict[str, tuple[int, int, int]],
    zero_tol: float = 0.0,
    device: torch.device | str = "cpu",
    progress: bool = True,
    total: int | None = None,
) -> dict[str, LayerStatistics]:
    """Feed every batch ``N×3×H×W`` ([0, 1]) through ``net`` once and accumulate every layer.

    Args:
        net: the frozen network (moved to ``device`` by the caller).
        batches: image batches.
        layers: the layers, each with feature maps.
        shapes: ``(C, h, w)`` per layer (from :func:`feature_map_shapes`).
        zero_tol: sparsity threshold.
        device: where the network runs (statistics accumulate there in float64).
        progress: show a tqdm bar over batches.
        total: number of batches, for the bar.

    Returns:
        layer → its :class:`LayerStatistics`.
    """
    stats = {layer: LayerStatistics(layer, shapes[layer], zero_tol) for layer in layers}
    for batch in tqdm(batches, total=total, disable=not progress, desc="feature statistics", unit="batch"):
        features = net.features(batch.to(device), list(layers))
        for layer, f in features.items():
            stats[layer].update(f)
    return stats
