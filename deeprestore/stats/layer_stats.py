"""All statistics of one layer's feature maps over a set of images (Harder 2017, §4.1, figure 4).

:class:`LayerStatistics` streams batches of feature maps ``N×C×h×w`` into the accumulators of
:mod:`~deeprestore.stats.covariance`, :mod:`~deeprestore.stats.gram` and
:mod:`~deeprestore.stats.sparsity`; :meth:`LayerStatistics.result` turns them into a
:class:`LayerResult`: the average spatial covariance (``h·w × h·w``) and its regularised inverse,
their distance from Toeplitz (whole grid, interior, a permuted reference, and the share of
sampling noise estimated from two halves of the images), per-position deviation maps, the channel covariance, the mean Gram matrix and the sparsity summary.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from deeprestore.stats.covariance import (
    StreamingCovariance,
    channel_samples,
    regularized_inverse,
    spatial_samples,
)
from deeprestore.stats.gram import StreamingGram
from deeprestore.stats.sparsity import SparsitySummary, StreamingSparsity
from deeprestore.stats.stationarity import toeplitz_deviation_map, toeplitz_distance

__all__ = ["LayerResult", "LayerStatistics", "stationarity_summary"]

logger = logging.getLogger(__name__)


def stationarity_summary(matrix: Tensor, h: int, w: int, border: int = 1, seed: int = 0, noise: Tensor | None = None) -> dict[str, Any]:
    """Toeplitz distances of a matrix over an ``h×w`` grid, as reported in ``stats_<layer>.json``.

    Args:
        matrix: the estimated matrix ``(h·w)×(h·w)``.
        border: border of the headline ``interior`` distance.
        seed: seed of the permutation of the permuted reference.
        noise: an estimate ``E`` of the estimation error of ``matrix`` (split-half, see
            ``LayerStatistics._split_half_noise``), or ``None``.

    Returns:
        ``total`` (whole grid), ``interior`` (positions at least ``border`` from the edge; ``None``
        when the grid is too small), ``border``, ``by_border`` (``b → distance`` for every ``b``
        leaving an interior of at least 2×2), ``permuted_reference``: the distance of ``P M Pᵀ``
        for a random permutation ``P`` of the positions (seeded) — the same entries without spatial
        order, i.e. what "far from Toeplitz" looks like for this matrix — and ``split_half_noise``
        (``total``/``interior``: ``‖E − T(E)‖ / ‖M‖``, the distance sampling noise alone would
        give) and ``noise_corrected`` (``sqrt(d² − noise²)``, clipped at 0: the distance with the
        estimated noise removed, taking noise and signal residuals as orthogonal); these two hold
        ``None`` without ``noise``.
    """
    by_border = {"0": toeplitz_distance(matrix, h, w)}
    b = 1
    while min(h, w) - 2 * b >= 2:
        by_border[str(b)] = toeplitz_distance(matrix, h, w, border=b)
        b += 1
    perm = torch.randperm(h * w, generator=torch.Generator().manual_seed(seed)).to(matrix.device)
    interior = by_border.get(str(border)) if border > 0 else by_border["0"]
    summary: dict[str, Any] = {
        "total": by_border["0"],
        "interior": interior,
        "border": border,
        "by_border": by_border,
        "permuted_reference": toeplitz_distance(matrix[perm][:, perm], h, w),
    }
    noise_total = noise_interior = None
    if noise is not None:
        noise_total = toeplitz_distance(noise, h, w, scale=matrix)
        noise_interior = toeplitz_distance(noise, h, w, border, scale=matrix) if interior is not None else None

    def corrected(d: float | None, n: float | None) -> float | None:
        return None if d is None or n is None else max(d * d - n * n, 0.0) ** 0.5

    summary["split_half_noise"] = {"total": noise_total, "interior": noise_interior}
    summary["noise_corrected"] = {"total": corrected(by_border["0"], noise_total), "interior": corrected(interior, noise_interior)}
    return summary


@dataclass
class LayerResult:
    """The statistics of one layer (all tensors float64, on the CPU).

    Attributes:
        layer: layer name.
        shape: ``(C, h, w)`` of one image's feature maps.
        images: number of images.
        spatial_covariance: ``(h·w)×(h·w)``, averaged over channels (row-major positions).
        spatial_inverse: its ridge-regularised inverse.
        channel_covariance: ``C×C``.
        gram: mean Gram matrix ``C×C``.
        sparsity: the sparsity summary.
        covariance_deviation, inverse_deviation: ``h×w`` per-position Toeplitz deviation maps
            (:func:`~deeprestore.stats.stationarity.toeplitz_deviation_map`, stationary part fitted
            to the interior of ``deviation_fit_border``).
        deviation_fit_border: the border left out of that fit (``border``, or 0 on tiny grids).
        summary: the JSON-ready numbers (see :meth:`LayerStatistics.result`).
    """

    layer: str
    shape: tuple[int, int, int]
    images: int
    spatial_covariance: Tensor
    spatial_inverse: Tensor
    channel_covariance: Tensor
    gram: Tensor
    sparsity: SparsitySummary
    covariance_deviation: Tensor
    inverse_deviation: Tensor
    deviation_fit_border: int = 0
    summary: dict[str, Any] = field(default_factory=dict)

    def arrays(self) -> dict[str, Any]:
        """The matrices as numpy arrays (for ``stats_<layer>.npz``)."""
        return {
            "spatial_covariance": self.spatial_covariance.numpy(),
            "spatial_inverse": self.spatial_inverse.numpy(),
            "channel_covariance": self.channel_covariance.numpy(),
            "gram": self.gram.numpy(),
            "covariance_deviation": self.covariance_deviation.numpy(),
            "inverse_deviation": self.inverse_deviation.numpy(),
            "zero_fraction": self.sparsity.zero_fraction.numpy(),
            "mean_activation": self.sparsity.mean_activation.numpy(),
            "map_hoyer": self.sparsity.map_hoyer.numpy(),
            "image_hoyer": self.sparsity.image_hoyer.numpy(),
        }


class LayerStatistics:
    """Streaming statistics of one layer's feature maps ``N×C×h×w``.

    Args:
        layer: layer name (for the report).
        shape: ``(C, h, w)``.
        zero_tol: activations with ``|x| ≤ zero_tol`` count as zero (sparsity).
    """

    def __init__(self, layer: str, shape: tuple[int, int, int], zero_tol: float = 0.0) -> None:
        c, h, w = shape
        self.layer = layer
        self.shape = (int(c), int(h), int(w))
        self.spatial = StreamingCovariance(h * w, groups=c)
        # even- and odd-numbered images, for the split-half noise estimate
        self.halves = (StreamingCovariance(h * w, groups=c), StreamingCovariance(h * w, groups=c))
        self.channel = StreamingCovariance(c, groups=1)
        self.gram = StreamingGram(c)
        self.sparsity = StreamingSparsity(c, tol=zero_tol)

    @property
    def images(self) -> int:
        """Images seen so far."""
        return self.spatial.count

    def update(self, features: Tensor) -> None:
        """Add a batch of feature maps ``N×C×h×w``."""
        if features.ndim != 4 or tuple(features.shape[1:]) != self.shape:
            raise ValueError(f"layer {self.layer}: expected feature maps N×{'×'.join(map(str, self.shape))}, got {tuple(features.shape)}")
        samples = spatial_samples(features)
        first = self.spatial.count % 2  # parity of this batch's first image in the stream
        self.halves[0].update(samples[first::2])
        self.halves[1].update(samples[1 - first :: 2])
        self.spatial.update(samples)
        self.channel.update(channel_samples(features))
        self.gram.update(features)
        self.sparsity.update(features)

    def result(self, rel_eps: float = 1e-6, border: int = 1, seed: int = 0) -> LayerResult:
        """Finish: covariances, inverse, Toeplitz distances, Gram and sparsity summaries.

        Args:
            rel_eps: relative ridge of the inverse (see :func:`~deeprestore.stats.covariance.regularized_inverse`).
            border: the border of the headline ``interior`` Toeplitz distance.
            seed: seed of the permutation of the permuted reference distance.

        Raises:
            ValueError: fewer than 2 images.
        """
        if self.images < 2:
            raise ValueError(f"layer {self.layer}: need at least 2 images for a covariance, got {self.images}")
        c, h, w = self.shape
        dof = c * (self.images - 1)  # rank bound of the pooled spatial covariance
        if dof < h * w:
            logger.warning(
                "layer %s: the %d×%d spatial covariance has at most rank %d (C·(N−1)) and is singular; "
                "its inverse is dominated by the ridge (rel_eps %g) — use more images",
                self.layer,
                h * w,
                h * w,
                dof,
                rel_eps,
            )
        cov = self.spatial.covariance().cpu()
        inverse = regularized_inverse(cov, rel_eps)
        cov_noise, inverse_noise = self._split_half_noise(inverse)
        eigenvalues = torch.linalg.eigvalsh(cov)
        channel_cov = self.channel.covariance().cpu()
        gram = self.gram.mean().cpu()
        sparsity = self.sparsity.summary()
        std = channel_cov.diagonal().clamp_min(0).sqrt()
        outer = std[:, None] * std[None, :]
        corr = torch.where(outer > 0, channel_cov / torch.where(outer > 0, outer, torch.ones_like(outer)), torch.zeros_like(outer))
        offdiag = ~torch.eye(c, dtype=torch.bool)
        fit_border = border if min(h, w) - 2 * border >= 2 else 0
        summary: dict[str, Any] = {
            "layer": self.layer,
            "shape": {"channels": c, "height": h, "width": w},
            "images": self.images,
            "spatial_covariance": {
                "size": h * w,
                "samples": self.images * c,
                "degrees_of_freedom": dof,
                "singular": dof < h * w,
                "mean_variance": float(cov.diagonal().mean()),
                "eigenvalue_min": float(eigenvalues[0]),
                "eigenvalue_max": float(eigenvalues[-1]),
                "condition_number": float(eigenvalues[-1] / eigenvalues[0]) if eigenvalues[0] > 0 else None,
                "inverse_rel_eps": rel_eps,
            },
            "toeplitz_distance": {
                "covariance": stationarity_summary(cov, h, w, border, seed, cov_noise),
                "inverse_covariance": stationarity_summary(inverse, h, w, border, seed, inverse_noise),
            },
            "channel_covariance": {
                "size": c,
                "samples": self.channel.count,
                "mean_variance": float(channel_cov.diagonal().mean()),
                "mean_abs_offdiagonal_correlation": float(corr[offdiag].abs().mean()) if c > 1 else None,
            },
            "gram": {
                "trace": float(gram.trace()),
                "diagonal_energy_fraction": float((gram.diagonal() ** 2).sum() / (gram**2).sum()) if gram.any() else None,
                "relative_spread_over_images": self.gram.relative_spread(),
            },
            "sparsity": sparsity.as_dict(),
        }
        return LayerResult(
            layer=self.layer,
            shape=self.shape,
            images=self.images,
            spatial_covariance=cov,
            spatial_inverse=inverse,
            channel_covariance=channel_cov,
            gram=gram,
            sparsity=sparsity,
            covariance_deviation=toeplitz_deviation_map(cov, h, w, fit_border),
            inverse_deviation=toeplitz_deviation_map(inverse, h, w, fit_border),
            deviation_fit_border=fit_border,
            summary=summary,
        )

    def _split_half_noise(self, inverse: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """Estimated estimation errors of the covariance and of its inverse.

        Covariance: ``E = (M₁ − M₂)/2`` from the even- and odd-numbered images. Each half has twice
        the variance of the full estimate, so ``E`` has the full estimate's noise level
        (crop-sampling noise only: both halves crop the same photos). Inverse: the first-order
        propagation ``−P E P`` with ``P`` the full inverse (inverting each half instead overstates
        the noise badly when ``h·w`` is not small against the samples, as inversion is far from
        linear there); it ignores higher-order terms, so it understates very noisy inverses.

        Returns:
            ``(E, −P E P)``, or ``(None, None)`` with fewer than 2 images in a half.
        """
        a, b = self.halves
        if min(a.count, b.count) < 2:
            return None, None
        noise = (a.covariance().cpu() - b.covariance().cpu()) / 2
        return noise, -(inverse @ noise @ inverse)
