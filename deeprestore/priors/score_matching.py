"""Score matching for patch energy models (Hyvärinen 2005), in closed form.

Model: ``log p(x) = Σₖ αₖ G(wₖᵀx) + const`` for patches ``x ∈ ℝᵈ`` with ``m`` filters ``wₖ``
(rows of ``W``, ``m×d``) and weights ``αₖ > 0``. Its score is ``ψ(x) = ∇ₓ log p(x) =
Σₖ αₖ g(wₖᵀx) wₖ`` and Hyvärinen's objective (JMLR 6, 2005, eq. 4 / the sampled version of
section 4) is

    J̃ = 1/T Σₜ [ Σᵢ ∂ᵢψᵢ(x⁽ᵗ⁾) + ½ ‖ψ(x⁽ᵗ⁾)‖² ]
       = Σₖ αₖ ‖wₖ‖² 1/T Σₜ g'(wₖᵀx⁽ᵗ⁾) + ½ Σⱼₖ αⱼαₖ wⱼᵀwₖ 1/T Σₜ g(wⱼᵀx⁽ᵗ⁾) g(wₖᵀx⁽ᵗ⁾),

the MSc thesis's equation 8 (which assumes unit-norm filters, ‖wₖ‖ = 1; the factor ‖wₖ‖² is
kept here so the filters need no constraint). Both terms are computed from the ``T×m`` matrix
of responses ``S = X Wᵀ``: the first is a weighted mean of ``g'(S)``, the second
``½ mean ‖(α ⊙ g(S)) W‖²`` — two matrix products, no Hessian, no loop over dimensions.

:func:`naive_score_matching_objective` computes the same number with autograd (the Hessian
diagonal one input dimension at a time); it is the reference for tests and the benchmark.
"""

from __future__ import annotations

import torch
from torch import Tensor

from deeprestore.priors.experts import Expert, get_expert

__all__ = ["naive_score_matching_objective", "score_matching_objective"]


def _check(patches: Tensor, filters: Tensor, alphas: Tensor) -> None:
    if patches.ndim != 2 or filters.ndim != 2 or patches.shape[1] != filters.shape[1]:
        raise ValueError(f"need patches T×d and filters m×d, got {tuple(patches.shape)} and {tuple(filters.shape)}")
    if alphas.shape != (filters.shape[0],):
        raise ValueError(f"need one alpha per filter ({filters.shape[0]}), got shape {tuple(alphas.shape)}")


def score_matching_objective(patches: Tensor, filters: Tensor, alphas: Tensor, expert: str | Expert) -> Tensor:
    """Hyvärinen's sampled score-matching objective J̃ (a scalar; lower is better).

    Args:
        patches: ``T×d`` data (whitened patches, typically).
        filters: ``m×d`` filters ``W``.
        alphas: ``(m,)`` expert weights.
        expert: ``"ica"``, ``"foe"``, ``"gauss"`` or an :class:`~deeprestore.priors.experts.Expert`.
    """
    _check(patches, filters, alphas)
    expert = get_expert(expert) if isinstance(expert, str) else expert
    responses = patches @ filters.T  # T×m
    divergence = (expert.g_prime(responses) * (alphas * filters.pow(2).sum(1))).sum(1)  # Σᵢ ∂ᵢψᵢ, (T,)
    score = (expert.g(responses) * alphas) @ filters  # ψ, T×d
    return (divergence + 0.5 * score.pow(2).sum(1)).mean()


def naive_score_matching_objective(patches: Tensor, filters: Tensor, alphas: Tensor, expert: str | Expert) -> Tensor:
    """The same J̃ by autograd: ψ = ∇ log p, then ∂ᵢψᵢ one dimension at a time (``d`` backward
    passes). Slow by design; differentiable w.r.t. the parameters (``create_graph``)."""
    _check(patches, filters, alphas)
    expert = get_expert(expert) if isinstance(expert, str) else expert
    x = patches.detach().clone().requires_grad_(True)
    log_p = (expert.G(x @ filters.T) * alphas).sum()
    score = torch.autograd.grad(log_p, x, create_graph=True)[0]  # T×d
    divergence = torch.zeros(len(x), dtype=x.dtype, device=x.device)
    for i in range(x.shape[1]):
        divergence = divergence + torch.autograd.grad(score[:, i].sum(), x, create_graph=True)[0][:, i]
    return (divergence + 0.5 * score.pow(2).sum(1)).mean()
