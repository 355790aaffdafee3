"""The on/off threshold of a noisy ReLU layer (Lei et al. 2019, Section 4), searched over a grid.

Noisy observations ``y = ReLU(A x + b) + e`` use a threshold ``ε`` for which outputs count as "on"
(``y_i > ε``) and minimise a misfit (:func:`~deeprestore.generative.lp_programs.noisy_lp`). The
paper raises ``ε`` until its LP (with tolerance ``ε``) is feasible. Here the LP is solved for
``ε = 0`` (in practice the round-off threshold ``rtol · max(max|y|, 1)``) first (noiseless data stop
there, with the exact solution), then on the grid ``ε_j = scale · eps_min · 2^j`` (``scale =
max_i |y_i|``, ``eps_min = 1e-6``, ``j = 0 … 20``), accepting the smallest ``ε`` at which the LP's
own noise estimate is within the threshold — ``t* ≤ ε`` for ℓ∞, ``Σ s_i / m ≤ ε`` for ℓ1 — *and*
the on rows still have full rank ``n``. Both tests are guaranteed to pass once ``ε ≥ ‖e‖∞`` (the
true ``x*`` is feasible with ``t = ‖e‖∞``), so acceptance is monotone in ``ε`` from there, and the
search (:func:`smallest_accepted`) starts at the noise's expected maximum ``σ̂ √(2 ln m)`` (``σ̂``
the RMS of the negative outputs — only noise makes an output negative), moves outwards by doubling
steps, then bisects: about 4 LPs instead of 21. The rank condition stops ``ε`` from growing until
no equality is left. If no ``ε`` passes, the solution at the largest full-rank ``ε`` is returned,
status ``inconsistent``.
"""

from __future__ import annotations

import time

import numpy as np

from deeprestore.generative.lp_programs import Bounds, noisy_lp, rank
from deeprestore.generative.lp_solve_info import Array, LayerSolution, LayerSolveInfo, SolveStatus

__all__ = ["ThresholdSearchMemo", "failed_solution", "relu_residual", "relu_threshold_search", "smallest_accepted"]


def relu_residual(A: Array, b: Array, y: Array, x: Array) -> float:
    """``max_i |ReLU(a_iᵀx + b_i) − y_i|``."""
    return float(np.max(np.abs(np.maximum(A @ x + b, 0.0) - y), initial=0.0))


def failed_solution(n: int, method: str, res, eps: float, lps: int, message: str) -> LayerSolution:
    """A solve that failed: ``x`` NaN, and why."""
    info = LayerSolveInfo(
        method=method,
        status=SolveStatus.FAILED,
        epsilon=eps,
        residual=np.inf,
        noise_estimate=np.inf,
        rank=0,
        n_on=0,
        lp_status=-1 if res is None else int(res.status),
        lps=lps,
        message=message,
    )
    return LayerSolution(np.full(n, np.nan), info)


def smallest_accepted(accepted, guess: int, lo: int, hi: int) -> tuple[int, int | None]:
    """The smallest ``j`` in ``(lo, hi]`` with ``accepted(j)``, for a predicate that is monotone in
    ``j`` (false up to some index, true from it on), searched from ``guess`` outwards with doubling
    steps, then bisected. Returns ``(largest rejected, smallest accepted or None)``."""
    step = 1
    if accepted(guess):
        top, j = guess, guess
        while j > lo + 1:
            j = max(lo + 1, top - step)
            if not accepted(j):
                lo = j
                break
            top, step = j, 2 * step
        hi_acc = top
    else:
        lo, j = guess, guess
        hi_acc = None
        while j < hi:
            j = min(hi, lo + step)
            if accepted(j):
                hi_acc = j
                break
            lo, step = j, 2 * step
        if hi_acc is None:
            return lo, None
    while hi_acc - lo > 1:
        mid = (lo + hi_acc) // 2
        lo, hi_acc = (lo, mid) if accepted(mid) else (mid, hi_acc)
    return lo, hi_acc


def relu_threshold_search(
    noise: str,
    A: Array,
    b: Array,
    y: Array,
    input_bounds: Bounds,
    eps_min: float,
    eps_steps: int,
    tol: float,
    time_limit: float,
) -> LayerSolution:
    """ℓ∞ / ℓ1 inversion of a ReLU layer ``y = ReLU(A x + b) + e`` with the threshold search of the
    module docstring; ``tol`` is the round-off threshold, the grid's first entry."""
    m, n = A.shape
    notes: list[str] = []
    lps, message = 0, ""
    c = y - b
    scale = float(np.max(np.abs(y), initial=0.0)) or 1.0
    grid = [tol] + [scale * eps_min * 2.0**j for j in range(eps_steps + 1)]
    method = f"lp-{noise}"
    cache: dict[int, tuple] = {}

    def rank_at(j: int) -> int:
        return rank(A[y > grid[j]])

    def solve(j: int):
        nonlocal lps
        if j not in cache:
            on = y > grid[j]
            res, x, est = noisy_lp(A, c, on, noise, input_bounds, time_limit, notes)
            lps += 1
            accepted = x is not None and est <= grid[j] + tol
            cache[j] = (res, x, est, accepted, int(on.sum()))
        return cache[j]

    # largest grid index whose on rows still have full rank (rank is non-increasing in ε)
    if rank_at(0) < n:
        j_max = 0
    else:
        lo, hi = 0, len(grid) - 1
        if rank_at(hi) == n:
            lo = hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if rank_at(mid) == n else (lo, mid)
        j_max = lo
    res, x, est, accepted, n_on = solve(0)
    j_best = 0
    if not accepted and j_max > 0:
        # the smallest accepted threshold in (0, j_max], searched outwards from the noise's expected
        # maximum: the negative outputs are noise on off rows (σ̂ = their RMS), ‖e‖∞ ≈ σ̂ √(2 ln m)
        negative = y[y < 0]
        expected = float(np.sqrt(np.mean(negative**2) * 2 * np.log(max(m, 2)))) if negative.size else est
        guess = min(j_max, max(1, next((j for j in range(1, len(grid)) if grid[j] >= expected), j_max)))
        lo, hi = smallest_accepted(lambda j: solve(j)[3], guess, 0, j_max)
        if hi is None:  # nothing accepted up to j_max: the largest full-rank threshold's solution
            j_best = j_max
        else:
            j_best = hi
        res, x, est, accepted, n_on = solve(j_best)
        if x is None and j_best != 0:
            res, x, est, accepted, n_on = solve(0)
            j_best = 0
    message += "".join(f"{note}; " for note in dict.fromkeys(notes))
    if x is None:
        return failed_solution(n, method, res, grid[j_best], lps, f"{message}{noise} LP: {res.message}")
    on_rank = rank_at(j_best)
    if on_rank < n:
        status = SolveStatus.UNDERDETERMINED
        message += f"rank of on rows {on_rank} < {n}: preimage not unique"
    elif not accepted:
        status = SolveStatus.INCONSISTENT
        message += f"no threshold accepted (misfit {est:.3g} > ε at the largest full-rank ε {grid[j_best]:.3g})"
    else:
        status = SolveStatus.OK
    info = LayerSolveInfo(
        method=method,
        status=status,
        epsilon=grid[j_best],
        residual=relu_residual(A, b, y, x),
        noise_estimate=est,
        rank=on_rank,
        n_on=n_on,
        lp_status=int(res.status),
        lps=lps,
        message=message,
    )
    return LayerSolution(x, info)


class ThresholdSearchMemo:
    """ReLU threshold searches (:func:`relu_threshold_search`) already done, by problem, for reuse.

    The noiseless method's ℓ∞ fallback on noisy data is exactly the ℓ∞ method's search on the same
    ``(A, b, y)``; a study that runs both on one sample solves it once. Keys are the problem's
    bytes (``A``, ``b``, ``y``) and every option of the search, so only identical problems match.
    ``reused_seconds`` adds up the time the reused searches took when they were done, so that a
    method's wall time can be reported as if it had run alone (:func:`invert_layerwise` does).
    """

    def __init__(self) -> None:
        self._solutions: dict[tuple, tuple[LayerSolution, float]] = {}
        self.reused_seconds = 0.0

    def search(self, noise: str, A: Array, b: Array, y: Array, *options) -> LayerSolution:
        """:func:`relu_threshold_search` ``(noise, A, b, y, *options)``, from the memo when already done."""
        key = (noise, A.shape, hash(A.tobytes()), hash(b.tobytes()), y.tobytes(), *options)
        if key in self._solutions:
            solution, seconds = self._solutions[key]
            self.reused_seconds += seconds
            return solution
        t0 = time.perf_counter()
        solution = relu_threshold_search(noise, A, b, y, *options)
        self._solutions[key] = (solution, time.perf_counter() - t0)
        return solution
