"""Langevin dynamics: unadjusted (ULA) and Metropolis-adjusted (MALA) chains.

With a score ``s(x) = ∇ₓ log p(x)`` and step size ``ε``, one step is (Roberts & Tweedie 1996)::

    x' = x + (ε/2) s(x) + √ε ξ,   ξ ~ N(0, I)

ULA keeps every proposal; its stationary law is ``p`` up to an ``O(ε)`` bias. Where the energy
``E = −log p + const`` is available, MALA accepts ``x'`` with probability
``min(1, exp(E(x) − E(x') + log q(x | x') − log q(x' | x)))`` with
``log q(x' | x) = −‖x' − x − (ε/2) s(x)‖² / (2ε)``, which removes the bias. A falling step size
(:func:`geometric_steps`) anneals the chain: large moves first, fine detail last.
:func:`annealed_langevin` anneals the noise instead (Song & Ermon 2019, Algorithm 1): ULA with the
score of the data smoothed at each of a falling sequence of noise levels in turn. Every chain of the
batch (dimension 0) runs independently; tensors keep their shape (``N×C×H×W`` images or ``N×D``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = ["ChainResult", "annealed_langevin", "geometric_steps", "langevin"]


@dataclass
class ChainResult:
    """The end of a batch of chains.

    Attributes:
        samples: the last states, the shape of the start.
        acceptance: per chain, the fraction of accepted proposals (MALA), else ``None``.
        trace: per recorded step, ``{"step": i, name: per-chain values …}`` of the ``record`` functions.
    """

    samples: Tensor
    acceptance: Tensor | None = None
    trace: list[dict[str, object]] = field(default_factory=list)


def geometric_steps(first: float, last: float, count: int) -> list[float]:
    """``count`` step sizes falling geometrically from ``first`` to ``last`` (annealing).

    Raises:
        ValueError: a non-positive size or count.
    """
    if first <= 0 or last <= 0 or count < 1:
        raise ValueError(f"step sizes and their count must be positive, got {first}, {last} and {count}")
    if count == 1:
        return [float(first)]
    return [float(first * (last / first) ** (i / (count - 1))) for i in range(count)]


def _per_chain(values: Tensor) -> Tensor:
    return values.flatten(1).sum(1)


def langevin(
    score: Callable[[Tensor], Tensor],
    start: Tensor,
    steps: Sequence[float],
    *,
    energy: Callable[[Tensor], Tensor] | None = None,
    generator: torch.Generator | None = None,
    record: dict[str, Callable[[Tensor], Tensor]] | None = None,
    record_every: int = 0,
    project: Callable[[Tensor], Tensor] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ChainResult:
    """Run ``len(steps)`` Langevin steps from ``start`` (one chain per item of dimension 0).

    Args:
        score: ``x ↦ ∇ₓ log p(x)``, same shape as ``x``.
        start: the initial states ``N×…``.
        steps: the step size ``ε`` of every step.
        energy: ``x ↦ E(x)`` per chain (``N``); given, the chain is Metropolis-adjusted (MALA).
        generator: the noise's random generator (on ``start``'s device).
        record: functions of the state recorded per chain every ``record_every`` steps (and at the end).
        record_every: ``0``: only the end.
        project: applied to every state kept (e.g. a clamp to the valid range; it makes MALA inexact).
        progress: called with the step index after each step (a progress bar's ``update``).

    Returns:
        The :class:`ChainResult`.
    """
    if start.ndim < 2:
        raise ValueError(f"start must be N×… (one chain per item), got shape {tuple(start.shape)}")
    x = start.detach().clone()
    accepted = torch.zeros(len(x), dtype=torch.float64, device=x.device) if energy is not None else None
    trace: list[dict[str, object]] = []

    def note(index: int) -> None:
        if record:
            with torch.no_grad():
                trace.append({"step": index, **{name: fn(x).detach().cpu() for name, fn in record.items()}})

    s = score(x).detach()
    e = energy(x).detach() if energy is not None else None
    for index, eps in enumerate(steps):
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        proposal = x + 0.5 * eps * s + eps**0.5 * noise
        if project is not None:
            proposal = project(proposal)
        s_new = score(proposal).detach()
        if energy is None:
            x, s = proposal, s_new
        else:
            e_new = energy(proposal).detach()
            forward = -_per_chain((proposal - x - 0.5 * eps * s).square()) / (2 * eps)
            backward = -_per_chain((x - proposal - 0.5 * eps * s_new).square()) / (2 * eps)
            log_ratio = e - e_new + backward - forward
            uniform = torch.rand(len(x), generator=generator, dtype=x.dtype, device=x.device)
            keep = torch.log(uniform) < log_ratio
            shape = (-1,) + (1,) * (x.ndim - 1)
            x = torch.where(keep.view(shape), proposal, x)
            s = torch.where(keep.view(shape), s_new, s)
            e = torch.where(keep, e_new, e)
            accepted += keep.double()
        if record_every and (index + 1) % record_every == 0 and index + 1 < len(steps):
            note(index + 1)
        if progress is not None:
            progress(index)
    note(len(steps))
    acceptance = None if accepted is None else accepted / max(len(steps), 1)
    return ChainResult(x, acceptance, trace)


def annealed_langevin(
    scores: Sequence[Callable[[Tensor], Tensor]],
    sigmas: Sequence[float],
    start: Tensor,
    steps_per_level: int,
    step_size: float,
    *,
    generator: torch.Generator | None = None,
    record: dict[str, Callable[[Tensor], Tensor]] | None = None,
    record_every: int = 0,
    project: Callable[[Tensor], Tensor] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ChainResult:
    """Annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1): ``steps_per_level`` ULA steps with
    each noise level's score in turn, from the largest ``σ`` to the smallest, at step size
    ``αᵢ = ε σᵢ² / σ_L²``.

    Args:
        scores: ``scores[i]`` is the score of the data smoothed by ``N(0, σᵢ²)`` (e.g. a DAE trained at
            ``σᵢ``: its residual over ``σᵢ²``).
        sigmas: ``σ₁ > σ₂ > … > σ_L > 0``.
        start: the initial states ``N×…``.
        steps_per_level: ULA steps at each level.
        step_size: ``ε``, the step size at the last level.
        Others: as :func:`langevin`; the trace's steps count from the first level's first step, and
        each level's end is recorded.

    Raises:
        ValueError: scores and sigmas of different lengths, none, noise levels that do not fall
            strictly, a non-positive count or step size.
    """
    if not scores or len(scores) != len(sigmas):
        raise ValueError(f"give one score per noise level, got {len(scores)} scores and {len(sigmas)} levels")
    if any(b >= a for a, b in zip(sigmas, sigmas[1:])) or sigmas[-1] <= 0:
        raise ValueError(f"the noise levels must fall strictly and stay positive, got {list(sigmas)}")
    if steps_per_level < 1 or step_size <= 0:
        raise ValueError(f"steps per level and the step size must be positive, got {steps_per_level} and {step_size}")
    x, trace = start, []
    for level, (score, sigma) in enumerate(zip(scores, sigmas)):
        offset = level * steps_per_level
        alpha = step_size * (sigma / sigmas[-1]) ** 2
        result = langevin(
            score,
            x,
            [alpha] * steps_per_level,
            generator=generator,
            record=record,
            record_every=record_every,
            project=project,
            progress=None if progress is None else (lambda i, offset=offset: progress(offset + i)),
        )
        trace += [{**t, "step": int(t["step"]) + offset} for t in result.trace]  # type: ignore[call-overload]
        x = result.samples
    return ChainResult(x, None, trace)
