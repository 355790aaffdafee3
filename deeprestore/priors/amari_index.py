"""The Amari index: how far an ICA unmixing estimate is from the true one, up to order and scale."""

from __future__ import annotations

from torch import Tensor

__all__ = ["amari_index"]


def amari_index(estimate: Tensor, truth: Tensor) -> float:
    """Amari et al. (1996) performance index of ``P = estimate @ truth`` (0 iff P is a scaled
    permutation), normalised to [0, 1] as in Hyvärinen's ICA literature."""
    p = (estimate.double() @ truth.double()).abs()
    n = p.shape[0]
    rows = (p.sum(1) / p.max(1).values - 1).sum()
    cols = (p.sum(0) / p.max(0).values - 1).sum()
    return float((rows + cols) / (2 * n * (n - 1))) if n > 1 else 0.0
