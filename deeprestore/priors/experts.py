"""Expert functions ``G`` of patch energy models ``log p(x) = Σᵢ αᵢ G(wᵢᵀx) + const``.

Each expert gives ``G`` (the log-potential), its derivative ``g = G'`` and ``g'`` — all that
score matching (:mod:`deeprestore.priors.score_matching`) and the energies need:

========== ============================ ======================= ============================
expert      G(s)                          g(s)                     g'(s)
========== ============================ ======================= ============================
``ica``     −log cosh s                   −tanh s                  −1/cosh² s
``foe``     −log(1 + s²/2)                −2s/(s² + 2)             2(s² − 2)/(s² + 2)²
``gauss``   −s²/2                         −s                       −1
========== ============================ ======================= ============================

``ica``: Hyvärinen (2005), "Estimation of non-normalized statistical models by score
matching", JMLR 6, section 4 (over-complete ICA); MSc thesis "Deep Restoration" eq. 7.
``foe``: Roth & Black (2005/2009), Fields of Experts, Student-t experts
``(1 + s²/2)^(−α)``; thesis eqs. 10–12. ``gauss`` makes the model a zero-mean Gaussian with
precision ``Wᵀ diag(α) W`` — the closed-form check of score matching.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["EXPERTS", "Expert", "get_expert"]


def _log_cosh(s: Tensor) -> Tensor:
    a = s.abs()
    return a + torch.log1p(torch.exp(-2.0 * a)) - math.log(2.0)


@dataclass(frozen=True)
class Expert:
    """``G``, ``g = G'`` and ``g'`` of one expert family (element-wise on tensors)."""

    name: str
    G: Callable[[Tensor], Tensor]
    g: Callable[[Tensor], Tensor]
    g_prime: Callable[[Tensor], Tensor]


EXPERTS: dict[str, Expert] = {
    "ica": Expert("ica", lambda s: -_log_cosh(s), lambda s: -torch.tanh(s), lambda s: -torch.cosh(s.clamp(-40, 40)).pow(-2)),
    "foe": Expert(
        "foe",
        lambda s: -torch.log1p(0.5 * s * s),
        lambda s: -2.0 * s / (s * s + 2.0),
        lambda s: 2.0 * (s * s - 2.0) / (s * s + 2.0).pow(2),
    ),
    "gauss": Expert("gauss", lambda s: -0.5 * s * s, lambda s: -s, lambda s: -torch.ones_like(s)),
}


def get_expert(name: str) -> Expert:
    """The expert family ``name`` (``ica``, ``foe`` or ``gauss``)."""
    if name not in EXPERTS:
        raise ValueError(f"unknown expert {name!r}; choose from {', '.join(EXPERTS)}")
    return EXPERTS[name]
