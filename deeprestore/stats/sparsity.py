"""Sparsity statistics of feature maps (Harder 2017, §4.1: "sparsity statistics of the feature maps").

Three numbers, per channel and overall:

* **zero fraction**: the share of activations with ``|x| ≤ tol`` (``tol = 0``: exact zeros, which a
  ReLU produces; EfficientNet's block outputs end in a linear projection and are rarely exactly 0,
  so a small ``tol`` is the meaningful choice there);
* **Hoyer sparsity** (Hoyer 2004) of a vector ``x ∈ Rⁿ``:
  ``(√n − ‖x‖₁/‖x‖₂) / (√n − 1)`` — 1 for a one-hot vector, 0 for a constant one, scale-invariant,
  undefined (NaN here) for the zero vector. Computed for every feature map (``n = h·w``: spatial
  sparsity of one channel in one image) and for every image's whole representation
  (``n = C·h·w``); maps that are entirely ``≤ tol`` are counted as *dead* and left out of the mean;
* **mean activation** per channel.

For scale: a dense i.i.d. Gaussian map has Hoyer sparsity ≈ 0.20 (:func:`gaussian_hoyer`), a
Laplace one ≈ 0.29; ReLU maps with most units off score much higher.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

__all__ = ["SparsitySummary", "StreamingSparsity", "gaussian_hoyer", "hoyer_sparsity"]


def hoyer_sparsity(x: Tensor, dim: int = -1) -> Tensor:
    """Hoyer's sparsity ``(√n − ‖x‖₁/‖x‖₂) / (√n − 1)`` along ``dim`` (``n`` = its length).

    Returns:
        ``x`` with ``dim`` reduced, values in ``[0, 1]``; NaN where ``x`` is all zeros.

    Raises:
        ValueError: ``n < 2`` (the measure is undefined).
    """
    n = x.shape[dim]
    if n < 2:
        raise ValueError(f"Hoyer sparsity needs vectors of length at least 2, got {n}")
    l1 = torch.linalg.vector_norm(x, ord=1, dim=dim)
    l2 = torch.linalg.vector_norm(x, ord=2, dim=dim)
    root = math.sqrt(n)
    ratio = l1 / torch.where(l2 > 0, l2, torch.ones_like(l2))
    value = ((root - ratio) / (root - 1)).clamp(0.0, 1.0)
    return torch.where(l2 > 0, value, torch.full_like(value, float("nan")))


def gaussian_hoyer(n: int) -> float:
    """Hoyer sparsity of a long i.i.d. zero-mean Gaussian vector of length ``n`` (a dense reference).

    Uses ``‖x‖₁/‖x‖₂ → √(2n/π)`` (``E|x| = σ√(2/π)``), so the value is
    ``(1 − √(2/π)) / (1 − 1/√n)`` ≈ 0.202 for large ``n``; a Laplace vector gives ≈ 0.293.
    """
    if n < 2:
        raise ValueError(f"Hoyer sparsity needs vectors of length at least 2, got {n}")
    return (1 - math.sqrt(2 / math.pi)) / (1 - 1 / math.sqrt(n))


@dataclass(frozen=True)
class SparsitySummary:
    """The sparsity statistics of one layer over a set of images.

    Attributes:
        zero_fraction: ``C``, share of activations with ``|x| ≤ tol`` per channel.
        mean_activation: ``C``, mean activation per channel.
        map_hoyer: ``N×C``, Hoyer sparsity of every feature map (NaN for dead maps).
        image_hoyer: ``N``, Hoyer sparsity of every image's whole representation.
        dead_fraction: ``C``, share of images in which the channel's map is entirely ``≤ tol``.
        tol: the zero threshold used.
        map_size: ``h·w``, the length of the vectors of ``map_hoyer``.
    """

    zero_fraction: Tensor
    mean_activation: Tensor
    map_hoyer: Tensor
    image_hoyer: Tensor
    dead_fraction: Tensor
    tol: float
    map_size: int = 0

    def channel_hoyer(self) -> Tensor:
        """``C``: mean Hoyer sparsity of each channel's maps, dead maps left out (NaN if all dead)."""
        return _nanmean(self.map_hoyer, dim=0)

    def as_dict(self) -> dict[str, Any]:
        """Overall numbers and per-channel lists, JSON-ready (NaN becomes ``None``)."""
        return {
            "tol": self.tol,
            "zero_fraction": float(self.zero_fraction.mean()),
            "mean_activation": float(self.mean_activation.mean()),
            "map_hoyer_mean": _finite(float(_nanmean(self.map_hoyer.flatten(), dim=0))),
            "image_hoyer_mean": _finite(float(_nanmean(self.image_hoyer, dim=0))),
            "dead_map_fraction": float(self.dead_fraction.mean()),
            "gaussian_map_hoyer": gaussian_hoyer(self.map_size) if self.map_size >= 2 else None,
            "per_channel": {
                "zero_fraction": self.zero_fraction.tolist(),
                "hoyer": [_finite(v) for v in self.channel_hoyer().tolist()],
                "mean_activation": self.mean_activation.tolist(),
                "dead_fraction": self.dead_fraction.tolist(),
            },
        }


class StreamingSparsity:
    """Accumulates :class:`SparsitySummary` over batches of feature maps ``N×C×h×w`` (float64).

    Args:
        channels: ``C``.
        tol: activations with ``|x| ≤ tol`` count as zero.
    """

    def __init__(self, channels: int, tol: float = 0.0) -> None:
        if tol < 0:
            raise ValueError(f"tol must be non-negative, got {tol}")
        self.channels = channels
        self.tol = tol
        self._zeros = torch.zeros(channels, dtype=torch.float64)
        self._sums = torch.zeros(channels, dtype=torch.float64)
        self._dead = torch.zeros(channels, dtype=torch.float64)
        self._entries = 0  # activations per channel so far
        self._map_size = 0
        self._map_hoyer: list[Tensor] = []
        self._image_hoyer: list[Tensor] = []

    def update(self, features: Tensor) -> None:
        """Add a batch ``N×C×h×w``."""
        if features.ndim != 4 or features.shape[1] != self.channels:
            raise ValueError(f"expected N×{self.channels}×h×w feature maps, got shape {tuple(features.shape)}")
        n, c, h, w = features.shape
        x = features.detach().to(torch.float64).reshape(n, c, h * w)
        zero = x.abs() <= self.tol
        self._zeros += zero.sum(dim=(0, 2)).cpu().to(torch.float64)
        self._sums += x.sum(dim=(0, 2)).cpu()
        self._dead += zero.all(dim=2).sum(dim=0).cpu().to(torch.float64)
        self._entries += n * h * w
        self._map_size = h * w
        if h * w >= 2:
            hoyer = hoyer_sparsity(x, dim=2)
            self._map_hoyer.append(torch.where(zero.all(dim=2), torch.nan, hoyer).cpu())
        else:
            self._map_hoyer.append(torch.full((n, c), float("nan"), dtype=torch.float64))
        self._image_hoyer.append(hoyer_sparsity(x.reshape(n, c * h * w), dim=1).cpu())

    @property
    def count(self) -> int:
        """Images seen."""
        return sum(len(h) for h in self._image_hoyer)

    def summary(self) -> SparsitySummary:
        """The statistics over every image seen."""
        if not self._image_hoyer:
            raise ValueError("no images yet")
        images = self.count
        return SparsitySummary(
            zero_fraction=self._zeros / self._entries,
            mean_activation=self._sums / self._entries,
            map_hoyer=torch.cat(self._map_hoyer),
            image_hoyer=torch.cat(self._image_hoyer),
            dead_fraction=self._dead / images,
            tol=self.tol,
            map_size=self._map_size,
        )


def _nanmean(x: Tensor, dim: int) -> Tensor:
    """Mean over ``dim`` ignoring NaNs (NaN where everything is NaN), without warnings."""
    valid = ~torch.isnan(x)
    total = torch.where(valid, x, torch.zeros_like(x)).sum(dim=dim)
    counts = valid.sum(dim=dim)
    return torch.where(counts > 0, total / counts.clamp_min(1), torch.full_like(total, float("nan")))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
