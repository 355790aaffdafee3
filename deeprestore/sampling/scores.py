"""Scores ``∇ₓ log p(x)`` for Langevin sampling, from what the project's priors offer.

* :func:`energy_score`: ``−∇E`` of an energy (Fields of Experts, ICA, any :class:`ImagePrior`), by autograd.
* :func:`dae_residual_score`: a denoising autoencoder's ``(r(x) − x)/σ²``, which estimates the score
  of the data density smoothed by ``N(0, σ²)`` (Alain & Bengio 2014, Theorem 1); no energy exists.
* :func:`feature_map_score`: a score on a network's feature map pulled back to the image,
  ``J_Φ(x)ᵀ s(Φ(x))`` (one vector-Jacobian product): the prior on features as a prior on images, the
  thesis's §5.2 joint sampling, and with a class's log-probability PPGN's conditional term
  (Nguyen et al. 2016).
* :func:`weighted_score`: ``Σ wᵢ sᵢ(x)``, the score of ``Π pᵢ^{wᵢ}`` (a product of experts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

__all__ = ["Score", "dae_residual_score", "energy_score", "feature_map_score", "weighted_score"]

Score = Callable[[Tensor], Tensor]


def energy_score(energy: Callable[[Tensor], Tensor]) -> Score:
    """``x ↦ −∇ₓ Σ E(x)`` for an energy returning one value per chain (``N``)."""

    def score(x: Tensor) -> Tensor:
        with torch.enable_grad():
            leaf = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(energy(leaf).sum(), leaf)
        return -grad

    return score


def dae_residual_score(dae: nn.Module, sigma: float) -> Score:
    """``x ↦ (r(x) − x)/σ²`` of a denoiser ``r`` trained at noise ``σ``."""
    if sigma <= 0:
        raise ValueError(f"the DAE's noise level σ must be positive, got {sigma}")

    def score(x: Tensor) -> Tensor:
        with torch.no_grad():
            return (dae(x) - x) / sigma**2

    return score


def feature_map_score(features: Callable[[Tensor], Tensor], feature_score: Score) -> Score:
    """``x ↦ J_Φ(x)ᵀ s(Φ(x))``: the score ``s`` of a prior on ``Φ(x)`` (e.g. a layer's maps) pulled back
    to ``x`` through ``Φ`` (``features``, differentiable)."""

    def score(x: Tensor) -> Tensor:
        with torch.enable_grad():
            leaf = x.detach().requires_grad_(True)
            maps = features(leaf)
            (pulled,) = torch.autograd.grad(maps, leaf, feature_score(maps.detach()))
        return pulled

    return score


def weighted_score(terms: Sequence[tuple[float, Score]]) -> Score:
    """``x ↦ Σ wᵢ sᵢ(x)``.

    Raises:
        ValueError: no terms.
    """
    if not terms:
        raise ValueError("a weighted score needs at least one term")

    def score(x: Tensor) -> Tensor:
        total = torch.zeros_like(x)
        for weight, term in terms:
            total = total + weight * term(x)
        return total

    return score
