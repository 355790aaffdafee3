"""Adam (Kingma & Ba 2015, Algorithm 1) on one tensor, as a handful of in-place tensor operations.

The arithmetic is that of ``torch.optim.Adam(foreach=False)`` operation for operation, so the
iterates are bit-identical (``tests/test_plain_adam.py``). What it leaves out is
``Optimizer.step``'s bookkeeping, which on small problems is most of the cost: among other things
every step asks ``torch.accelerator`` whether a CUDA graph is being captured, and once Lightning
is imported (it sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1``) that check loads NVML anew on every call
on a machine without a GPU driver. On the LP study's small networks that is about half of a
gradient-descent step (``benchmarks/gd_step_overhead.py``, BENCHMARKS.md); the generators'
gradient-descent baselines (CSGM, ILO) take thousands of such steps per sample, and the engine's
``adam`` optimiser one per iteration.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["PlainAdam"]


class PlainAdam:
    """Adam on one leaf tensor ``variable`` (any shape), no weight decay, no AMSGrad.

    ``step(lr)`` applies one update with the rate ``lr`` from ``variable.grad``:
    ``m ← β₁ m + (1 − β₁) g``, ``v ← β₂ v + (1 − β₂) g²``,
    ``x ← x − lr / (1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)``.
    """

    def __init__(self, variable: Tensor, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        if not variable.is_leaf:
            raise ValueError("PlainAdam optimises a leaf tensor (one that requires grad and was not computed)")
        self.variable = variable
        self.beta1, self.beta2 = float(betas[0]), float(betas[1])
        self.eps = float(eps)
        self.steps = 0
        self.exp_avg = torch.zeros_like(variable, memory_format=torch.preserve_format)
        self.exp_avg_sq = torch.zeros_like(variable, memory_format=torch.preserve_format)

    @torch.no_grad()
    def step(self, lr: float) -> None:
        """One update of ``variable`` from its ``.grad`` (which must be set)."""
        grad = self.variable.grad
        if grad is None:
            raise RuntimeError("PlainAdam.step: the variable has no gradient (call backward first)")
        self.steps += 1
        self.exp_avg.lerp_(grad, 1 - self.beta1)
        self.exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
        bias_correction1 = 1 - self.beta1**self.steps
        bias_correction2_sqrt = (1 - self.beta2**self.steps) ** 0.5
        denom = (self.exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
        self.variable.addcdiv_(self.exp_avg, denom, value=-(lr / bias_correction1))
