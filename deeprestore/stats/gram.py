"""Gram matrices of feature maps (Gatys, Ecker & Bethge 2015; Harder 2017, §4.1).

For one image with feature maps ``F ∈ R^{C×(h·w)}`` (channels × flattened positions) the Gram
matrix is ``G = F Fᵀ / (h·w)`` (``C×C``): the mean over positions of the outer product of the
channel vector — uncentred second moments, blind to *where* features occur. The thesis evaluated
them alongside the covariance; Gatys et al. match them for texture synthesis and style.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["StreamingGram", "gram_matrices"]


def gram_matrices(features: Tensor) -> Tensor:
    """Per-image Gram matrices ``N×C×C`` of feature maps ``N×C×h×w``: ``G_n = F_n F_nᵀ / (h·w)``."""
    if features.ndim != 4:
        raise ValueError(f"expected feature maps N×C×h×w, got shape {tuple(features.shape)}")
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


class StreamingGram:
    """Mean Gram matrix over images, and how much it varies between images; float64.

    ``update(features)`` takes ``N×C×h×w``. :meth:`mean` is ``Ḡ = (1/N) Σ_n G_n`` (``C×C``);
    :meth:`relative_spread` is ``sqrt(mean_n ‖G_n − Ḡ‖²_F) / ‖Ḡ‖_F`` (0 when every image has the
    same Gram matrix).

    Args:
        channels: ``C``.
    """

    def __init__(self, channels: int) -> None:
        self.channels = channels
        self.count = 0
        self._sum: Tensor | None = None
        self._sum_sq_norm = 0.0

    def update(self, features: Tensor) -> None:
        """Add the Gram matrices of a batch ``N×C×h×w``."""
        if features.ndim != 4 or features.shape[1] != self.channels:
            raise ValueError(f"expected N×{self.channels}×h×w feature maps, got shape {tuple(features.shape)}")
        grams = gram_matrices(features.detach().to(torch.float64))
        batch_sum = grams.sum(dim=0)
        self._sum = batch_sum if self._sum is None else self._sum + batch_sum
        self._sum_sq_norm += float((grams**2).sum())
        self.count += features.shape[0]

    def mean(self) -> Tensor:
        """``Ḡ``, ``C×C`` float64."""
        if self._sum is None:
            raise ValueError("no images yet")
        return self._sum / self.count

    def relative_spread(self) -> float:
        """``sqrt(E‖G_n − Ḡ‖²) / ‖Ḡ‖`` over the images seen (``E‖G‖² − ‖Ḡ‖²`` inside the root)."""
        mean = self.mean()
        mean_sq = float((mean**2).sum())
        if mean_sq == 0.0:
            return 0.0
        variance = max(self._sum_sq_norm / self.count - mean_sq, 0.0)
        return (variance / mean_sq) ** 0.5
