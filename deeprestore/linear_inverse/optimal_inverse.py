"""Optimal linear inverses of ``f = W x + noise`` (the thesis's §1.1.1).

With a Gaussian prior ``x ~ N(0, Σ)`` and Gaussian noise of variance ``1/λ`` relative to it, the MAP
estimate is linear in the features (the thesis's eq. 2)::

    x̂ = (Σ⁻¹/λ + WᵀW)⁻¹ Wᵀ f

and as ``λ → ∞`` with ``W`` of full column rank it is the pseudo-inverse ``W⁺ f``. Both are returned
as explicit ``n×m`` matrices, whose structure (how far from (block-)Toeplitz) says whether a
convolution could implement them.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["gaussian_moments", "linear_mmse_inverse", "map_inverse", "pseudo_inverse"]


def _check_matrix(w: Tensor) -> Tensor:
    if w.ndim != 2 or not w.is_floating_point():
        raise ValueError(f"W must be a floating-point m×n matrix, got shape {tuple(w.shape)} of {w.dtype}")
    return w.double()


def map_inverse(w: Tensor, prior_covariance: Tensor, strength: float) -> Tensor:
    """``(Σ⁻¹/λ + WᵀW)⁻¹ Wᵀ`` (``n×m``, float64): the MAP inverse of eq. 2.

    Args:
        w: the layer's matrix ``m×n`` (:func:`~deeprestore.linear_inverse.layer_matrix`).
        prior_covariance: ``Σ``, ``n×n`` symmetric positive definite (e.g. measured on image patches).
        strength: ``λ > 0``: the weight of the features against the prior.

    Raises:
        ValueError: shapes that do not fit, or ``λ ≤ 0``.
    """
    w = _check_matrix(w)
    n = w.shape[1]
    if tuple(prior_covariance.shape) != (n, n):
        raise ValueError(f"the prior covariance must be {n}×{n} for W of shape {tuple(w.shape)}, got {tuple(prior_covariance.shape)}")
    if not strength > 0:
        raise ValueError(f"the strength λ must be positive, got {strength}")
    precision = torch.linalg.inv(prior_covariance.double())
    return torch.linalg.solve(precision / strength + w.T @ w, w.T)


def pseudo_inverse(w: Tensor, rcond: float = 1e-10) -> Tensor:
    """The Moore–Penrose pseudo-inverse ``W⁺`` (``n×m``, float64); singular values below
    ``rcond`` times the largest are treated as zero."""
    return torch.linalg.pinv(_check_matrix(w), rtol=rcond)


def gaussian_moments(w: Tensor, prior_covariance: Tensor, strength: float) -> tuple[Tensor, Tensor]:
    """The second moments of ``f = W x + ε`` with ``x ~ N(0, Σ)`` and ``ε ~ N(0, I/λ)``:
    ``(C, R) = (Σ Wᵀ, W Σ Wᵀ + I/λ)`` (``n×m``, ``m×m``, float64); ``λ = inf`` for no noise."""
    w = _check_matrix(w)
    sigma = prior_covariance.double()
    if tuple(sigma.shape) != (w.shape[1], w.shape[1]):
        raise ValueError(
            f"the prior covariance must be {w.shape[1]}×{w.shape[1]} for W of shape {tuple(w.shape)}, got {tuple(sigma.shape)}"
        )
    if not strength > 0:
        raise ValueError(f"the strength λ must be positive, got {strength}")
    cross = sigma @ w.T
    return cross, w @ cross + torch.eye(w.shape[0], dtype=torch.float64) / strength


def linear_mmse_inverse(cross_moment: Tensor, feature_moment: Tensor) -> Tensor:
    """``C R⁻¹`` (``n×m``, float64): the matrix minimising ``E‖x − M f‖²`` given ``C = E[x fᵀ]`` and
    ``R = E[f fᵀ]`` (positive definite). With :func:`gaussian_moments` it is eq. 2's
    :func:`map_inverse` in its push-through form ``Σ Wᵀ (W Σ Wᵀ + I/λ)⁻¹``, which needs no ``Σ⁻¹``; with
    moments measured on data it is the best linear inverse of any features, a nonlinearity's included."""
    cross, moment = cross_moment.double(), feature_moment.double()
    if cross.ndim != 2 or tuple(moment.shape) != (cross.shape[1], cross.shape[1]):
        raise ValueError(f"expected C of shape n×m and R of shape m×m, got {tuple(cross.shape)} and {tuple(moment.shape)}")
    return torch.linalg.solve(moment, cross.T).T
