"""PCA / ZCA whitening of patches, fitted on a training set and saved with the prior.

``z = A (x − μ)`` with ``A = D^{−½} Uᵀ P`` (PCA, ``r×d``) or ``U D^{−½} Uᵀ P`` (ZCA, ``d×d`` of rank ``r``),
where ``U D Uᵀ`` is the eigendecomposition of the covariance of ``P x`` and ``P`` optionally
removes each patch's mean per channel (its "DC component"; ``remove_dc=True``). The ``r``
leading components are kept (default: ``d`` minus the ``C`` DC directions ``P`` removes, so the
shape is known before fitting); ``eps`` times the mean variance is added to every variance
(regularised whitening, so dead channels of a feature map do not blow up).

Because whitening is affine, a model on ``z`` is a model on ``x`` with filters ``W A`` and
biases ``−W A μ`` (:meth:`Whitening.compose`); that is how patch priors become convolutions.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

__all__ = ["Whitening"]

Method = Literal["pca", "zca"]


def dc_projection(dim: int, channels: int) -> Tensor:
    """``d×d`` projection that subtracts, per channel, the mean of a patch flattened as ``C×k×k``."""
    size = dim // channels
    block = torch.eye(size, dtype=torch.float64) - torch.full((size, size), 1.0 / size, dtype=torch.float64)
    return torch.block_diag(*[block] * channels)


class Whitening(nn.Module):
    """An affine whitening map ``z = A (x − μ)`` for ``d``-dimensional patches (``r`` outputs).

    Buffers (saved in checkpoints): ``mean`` ``(d,)``, ``matrix`` ``A`` ``(r×d)``, ``inverse``
    ``(d×r)`` (the pseudo-inverse: ``x − μ ≈ inverse z`` on the kept components).
    """

    def __init__(self, dim: int, out_dim: int | None = None) -> None:
        super().__init__()
        out_dim = dim if out_dim is None else out_dim
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("matrix", torch.eye(out_dim, dim))
        self.register_buffer("inverse", torch.eye(dim, out_dim))

    @property
    def in_dim(self) -> int:
        return self.matrix.shape[1]

    @property
    def out_dim(self) -> int:
        return self.matrix.shape[0]

    @classmethod
    def fit(
        cls,
        patches: Tensor,
        method: Method = "zca",
        *,
        channels: int = 1,
        remove_dc: bool = False,
        eps: float = 1e-3,
        n_components: int | None = None,
    ) -> Whitening:
        """Fit on ``T×d`` patches (flattened ``C×k×k`` with ``C = channels``).

        ``eps`` is relative to the mean variance (so the map does not depend on the patches'
        units); ``n_components`` defaults to :meth:`default_components`.
        """
        if patches.ndim != 2 or len(patches) < 2:
            raise ValueError(f"need T×d patches with T ≥ 2, got {tuple(patches.shape)}")
        if method not in ("pca", "zca"):
            raise ValueError(f"whitening method must be 'pca' or 'zca', got {method!r}")
        x = patches.detach().double()
        dim = x.shape[1]
        if dim % channels:
            raise ValueError(f"patch dimension {dim} is not a multiple of channels={channels}")
        mean = x.mean(0)
        proj = dc_projection(dim, channels).to(x.device) if remove_dc else torch.eye(dim, dtype=torch.float64, device=x.device)
        centred = (x - mean) @ proj.T
        cov = centred.T @ centred / (len(x) - 1)
        values, vectors = torch.linalg.eigh(cov)
        values, vectors = values.flip(0), vectors.flip(1)  # largest first
        r = cls.default_components(dim, channels, remove_dc) if n_components is None else n_components
        if not 0 < r <= dim:
            raise ValueError(f"n_components must be in 1..{dim}, got {r}")
        reg = values[:r].clamp_min(0) + eps * values.clamp_min(0).mean()
        values, vectors = values[:r], vectors[:, :r]
        matrix = (vectors / reg.sqrt()).T @ proj  # r×d (PCA)
        inverse = vectors * reg.sqrt()  # d×r
        if method == "zca":
            matrix, inverse = vectors @ matrix, inverse @ vectors.T
        white = cls(dim, matrix.shape[0])
        white.mean.copy_(mean.float())
        white.matrix.copy_(matrix.float())
        white.inverse.copy_(inverse.float())
        return white

    @staticmethod
    def default_components(dim: int, channels: int, remove_dc: bool) -> int:
        """``d``, or ``d − C`` when each channel's DC component is removed."""
        return dim - channels if remove_dc else dim

    def forward(self, patches: Tensor) -> Tensor:
        """``T×d`` → ``T×r`` whitened patches."""
        return (patches - self.mean) @ self.matrix.T

    def invert(self, white: Tensor) -> Tensor:
        """``T×r`` → ``T×d`` patches (exact on the kept components)."""
        return white @ self.inverse.T + self.mean

    def compose(self, filters: Tensor) -> tuple[Tensor, Tensor]:
        """Filters ``m×r`` on whitened patches → ``(m×d filters, (m,) biases)`` on raw patches:
        ``W z = (W A) x − W A μ``."""
        weight = filters @ self.matrix
        return weight, -(weight @ self.mean)
