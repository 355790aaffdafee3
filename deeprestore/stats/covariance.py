"""Streaming covariance of flattened feature maps (Harder 2017, MSc thesis "Deep Restoration", §4.1).

The thesis shows "the average covariance and its inverse" of the flattened feature maps of
VGG16's ``pool5`` (7×7) over 200 images (figure 4). Here *flattened* means:

* **spatial covariance** (the thesis's matrix, ``h·w × h·w``): for every channel ``c``, the map
  ``x_c ∈ R^{h·w}`` (row-major: position ``p = i·w + j``) of one image is one sample. Each channel
  has its own mean map ``μ_c`` (over images), its own covariance ``Σ_c`` over images, and the
  result is the average over channels, ``Σ = (1/C) Σ_c Σ_c``. Channels are not standardised, so
  a channel weighs in with its variance (this is the "average covariance").
* **channel covariance** (``C × C``): every spatial position of every image is one sample of the
  channel vector ``x ∈ R^C``, with one mean vector.

Both are a *pooled within-group covariance*: samples ``x_{n,g} ∈ R^D`` in ``G`` groups (channels,
or a single group), each group with its own mean, the unbiased (``n − 1``) covariances averaged
over groups. :class:`StreamingCovariance` accumulates it over batches in float64 with Chan et al.'s
pairwise update (batch mean and centred scatter, merged with the running ones), so the result does
not suffer the cancellation of ``E[xxᵀ] − μμᵀ`` and equals the one-shot value (tested against
``numpy.cov``).

The inverse is a ridge-regularised inverse through the symmetric eigendecomposition:
``(Σ + ε·(tr Σ / D)·I)⁻¹`` with a *relative* ``ε`` (:func:`regularized_inverse`); ``ε = 0`` is the
plain inverse of a full-rank matrix (eigenvalues ≤ 0 raise).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "StreamingCovariance",
    "channel_samples",
    "covariance",
    "regularized_inverse",
    "spatial_samples",
]


def spatial_samples(features: Tensor) -> Tensor:
    """Feature maps ``N×C×h×w`` → samples ``N×C×(h·w)`` for the spatial covariance.

    Group ``c`` (a channel) holds ``N`` samples (one per image) of the flattened map, row-major
    (position ``p = i·w + j``).
    """
    if features.ndim != 4:
        raise ValueError(f"expected feature maps N×C×h×w, got shape {tuple(features.shape)}")
    n, c, h, w = features.shape
    return features.reshape(n, c, h * w)


def channel_samples(features: Tensor) -> Tensor:
    """Feature maps ``N×C×h×w`` → samples ``(N·h·w)×1×C`` for the channel covariance.

    Every position of every image is one sample of the channel vector; one group (one mean).
    """
    if features.ndim != 4:
        raise ValueError(f"expected feature maps N×C×h×w, got shape {tuple(features.shape)}")
    n, c, h, w = features.shape
    return features.permute(0, 2, 3, 1).reshape(n * h * w, 1, c)


class StreamingCovariance:
    """Pooled within-group covariance of ``D``-dimensional samples, accumulated over batches.

    ``update(x)`` takes ``x`` of shape ``N×G×D``: ``N`` new samples of each of ``G`` groups. Each
    group has its own mean; :meth:`covariance` is ``(1/G) Σ_g (1/(n−ddof)) Σ_i (x_ig − μ_g)(x_ig − μ_g)ᵀ``
    (``D×D``), where ``n`` is the number of samples per group so far.

    Accumulation is in float64 on the device of the first batch (Chan, Golub & LeVeque 1979:
    the batch's centred scatter plus ``(n_a n_b / n) δᵀδ`` for the shift ``δ`` of the means).

    Args:
        dim: ``D``, the sample dimension.
        groups: ``G``, the number of groups (channels for the spatial covariance, 1 otherwise).
    """

    def __init__(self, dim: int, groups: int = 1) -> None:
        if dim < 1 or groups < 1:
            raise ValueError(f"dim and groups must be positive, got dim={dim}, groups={groups}")
        self.dim = dim
        self.groups = groups
        self.count = 0
        self._mean: Tensor | None = None  # G×D
        self._m2: Tensor | None = None  # D×D, centred scatter summed over groups

    def update(self, x: Tensor) -> None:
        """Add ``N×G×D`` samples (any float dtype; accumulated in float64)."""
        if x.ndim != 3 or x.shape[1:] != (self.groups, self.dim):
            raise ValueError(f"expected samples N×{self.groups}×{self.dim}, got shape {tuple(x.shape)}")
        n_b = x.shape[0]
        if n_b == 0:
            return
        x = x.detach().to(torch.float64)
        mean_b = x.mean(dim=0)  # G×D
        centred = (x - mean_b).reshape(-1, self.dim)
        m2_b = centred.T @ centred
        if self._mean is None or self._m2 is None:
            self._mean, self._m2, self.count = mean_b, m2_b, n_b
            return
        n_a = self.count
        n = n_a + n_b
        delta = mean_b - self._mean  # G×D
        self._m2 = self._m2 + m2_b + (n_a * n_b / n) * (delta.T @ delta)
        self._mean = self._mean + delta * (n_b / n)
        self.count = n

    @property
    def mean(self) -> Tensor:
        """Per-group means ``G×D`` (float64)."""
        if self._mean is None:
            raise ValueError("no samples yet")
        return self._mean

    def covariance(self, ddof: int = 1) -> Tensor:
        """The pooled covariance ``D×D`` (float64, symmetric).

        Args:
            ddof: ``1`` for the unbiased estimate (as ``numpy.cov``), ``0`` for the biased one.

        Raises:
            ValueError: fewer than ``ddof + 1`` samples per group.
        """
        if self._m2 is None or self.count <= ddof:
            raise ValueError(f"need more than {ddof} sample(s) per group for a covariance, have {self.count}")
        cov = self._m2 / (self.groups * (self.count - ddof))
        return 0.5 * (cov + cov.T)


def covariance(x: Tensor, ddof: int = 1) -> Tensor:
    """One-shot pooled covariance of samples ``N×G×D`` (see :class:`StreamingCovariance`)."""
    acc = StreamingCovariance(x.shape[-1], x.shape[1])
    acc.update(x)
    return acc.covariance(ddof)


def regularized_inverse(cov: Tensor, rel_eps: float = 1e-6) -> Tensor:
    """Ridge-regularised inverse ``(Σ + ε·(tr Σ / D)·I)⁻¹`` of a symmetric PSD matrix ``D×D``.

    Computed from the eigendecomposition ``Σ = V diag(λ) Vᵀ`` in float64 as
    ``V diag(1 / (λ + ε·mean(λ))) Vᵀ``. The ridge is relative to the mean eigenvalue, so ``ε``
    does not depend on the units of the features. ``ε = 0`` gives the plain inverse.

    Args:
        cov: symmetric ``D×D``.
        rel_eps: relative ridge ``ε ≥ 0``.

    Returns:
        The symmetric inverse ``D×D``, float64.

    Raises:
        ValueError: ``cov`` not square, ``rel_eps < 0``, or a regularised eigenvalue not above
            the round-off floor ``D·eps_float64·max|λ|`` (a singular matrix with ``rel_eps = 0``,
            or an indefinite one).
    """
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"expected a square matrix, got shape {tuple(cov.shape)}")
    if rel_eps < 0:
        raise ValueError(f"rel_eps must be non-negative, got {rel_eps}")
    sym = 0.5 * (cov + cov.T).to(torch.float64)
    eigenvalues, vectors = torch.linalg.eigh(sym)
    shifted = eigenvalues + rel_eps * eigenvalues.mean().clamp_min(0.0)
    smallest = float(shifted.min())
    floor = float(eigenvalues.abs().max()) * sym.shape[0] * torch.finfo(torch.float64).eps
    if not smallest > floor:
        raise ValueError(f"cannot invert: smallest (regularised) eigenvalue is {smallest:.3g}; use more images or a positive rel_eps")
    inverse = (vectors / shifted) @ vectors.T
    return 0.5 * (inverse + inverse.T)
