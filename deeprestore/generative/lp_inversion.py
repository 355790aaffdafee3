"""Layer-wise inversion of a generator by linear programming (Lei, Jalal, Dhillon & Dimakis 2019,
"Inverting deep generative models, one layer at a time", NeurIPS).

One layer ``y = ReLU(A x + b)`` (``A``: ``m × n``, ``m > n``) is inverted exactly by the linear
program of Section 3 (eq. 3): every positive output gives an equality, every zero output an
inequality,

    find x   s.t.   a_iᵀx + b_i = y_i   (y_i > 0),      a_iᵀx + b_i ≤ 0   (y_i = 0).

(In floating point "positive" means ``y_i > rtol · max(max_i |y_i|, 1)``, ``rtol = 1e-7``: inner
layers recovered by a previous LP carry round-off of ~1e-13 where the truth is exactly zero, and
an equality ``a_iᵀx = 1e-13`` for a truly-off row makes eq. 3 infeasible.)

Its solution is unique when the rows with ``y_i > 0`` have rank ``n``, which for Gaussian ``A``
happens with high probability once ``m ≳ 2.1 n`` (their Theorem 3). A deep generator is inverted
by running this from the image back to the latent, one layer at a time (their Section 3.1;
Theorem 4 for random expanding networks).

Noisy observations ``y = ReLU(A x + b) + e`` (Section 4) use a threshold ``ε`` for which outputs
count as "on" (``y_i > ε``) and minimise a misfit:

* ``"linf"`` (their ℓ∞ algorithm): ``min t`` s.t. ``|a_iᵀx + b_i − y_i| ≤ t`` for ``y_i > ε`` and
  ``a_iᵀx + b_i ≤ y_i + t`` for ``y_i ≤ ε``;
* ``"l1"`` (their ℓ1 algorithm, for sparse noise): ``min Σ_i s_i`` s.t. ``|a_iᵀx + b_i − y_i| ≤ s_i``
  for ``y_i > ε`` and ``a_iᵀx + b_i ≤ y_i + s_i`` for ``y_i ≤ ε``, ``s ≥ 0``.

Choices where the paper is not precise (documented here, used everywhere):

* Off rows use ``a_iᵀx + b_i ≤ y_i + t`` rather than ``≤ t``: for any truly-off row ``y_i = e_i``,
  and for a truly-on row with ``y_i ≤ ε``, ``ReLU(a_iᵀx* + b_i) = y_i − e_i ≤ y_i + ‖e‖∞``, so the
  true ``x*`` is feasible with ``t = ‖e‖∞`` as soon as ``ε ≥ ‖e‖∞`` (no truly-off row is then
  taken as on). The paper's ``≤ ε``-style bound is the same up to ``y_i ≤ ε``.
* The threshold: the paper raises ``ε`` until its LP (with tolerance ``ε``) is feasible. We solve
  the LP for ``ε = 0`` (in practice the round-off threshold ``rtol · max(max|y|, 1)``) first
  (noiseless data stop here, with the exact solution), then on the grid
  ``ε_j = scale · eps_min · 2^j`` (``scale = max_i |y_i|``, ``eps_min = 1e-6``, ``j = 0 … 20``) and
  accept the smallest ``ε`` (found by a search over the grid that starts at the noise's expected
  maximum ``σ̂ √(2 ln m)``, ``σ̂`` the RMS of the negative outputs — only noise makes an output
  negative — and moves outwards by doubling steps, then bisects: about 4 LPs instead of 21,
  assuming acceptance is monotone in ``ε`` — which the guarantee below makes true for
  ``ε ≥ ‖e‖∞``) at which the LP's own noise estimate
  is within the threshold — ``t* ≤ ε`` for ℓ∞, ``Σ s_i / m ≤ ε`` for ℓ1 — *and* the on rows still
  have full rank ``n``. Both acceptance tests are guaranteed to pass once ``ε ≥ ‖e‖∞`` (the true
  ``x*`` is feasible with ``t = ‖e‖∞``, mean slack ``≤ ‖e‖∞``); the rank condition stops ``ε`` from
  growing until no equality is left, where any ``x`` with ``A x + b ≤ y`` would be accepted.
  If no ``ε`` passes, the solution at the largest full-rank ``ε`` is returned with status
  ``"inconsistent"``.
* When the layer being recovered is itself the output of a ReLU (sigmoid, tanh) stage, the LP
  gets the bounds ``x ≥ 0`` (``0 ≤ x ≤ 1``, ``−1 ≤ x ≤ 1``): true facts about ``x`` that keep
  errors of one layer from producing impossible inputs for the next (``invert_layerwise`` sets them).

Other invertible activations (leaky_relu, sigmoid, tanh, identity) are inverted elementwise
(sigmoid/tanh outputs clipped into the open range first, ``clip`` from the boundary), and
``A x = σ⁻¹(y) − b`` is solved by least squares (``scipy.linalg.lstsq``; bounds ignored) when
``noise="none"``, or by the ℓ∞ / ℓ1 LP above with every row an equality row.

Failures are explicit: an infeasible, unbounded or inconsistent noiseless problem falls back to the
``"linf"`` variant (status ``"fallback"``); a layer whose equality rows have rank ``< n`` is
``"underdetermined"`` (a consistent but not unique preimage); a solver error gives ``x = NaN``
(status ``"failed"``). Every solve is described by a :class:`LayerSolveInfo`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from scipy.linalg import lstsq
from scipy.optimize import linprog
from torch import Tensor
from tqdm.auto import tqdm

from deeprestore.generative.stage_matrix import stage_affine
from deeprestore.generative.staged_generator import StagedGenerator

__all__ = [
    "NOISE_MODES",
    "OK_STATUSES",
    "InversionDiagnostics",
    "LayerSolution",
    "LayerSolveInfo",
    "ThresholdSearchMemo",
    "input_bounds_for",
    "invert_layer",
    "invert_layerwise",
    "invert_relu_layer",
]

NOISE_MODES = ("none", "linf", "l1")
OK_STATUSES = ("exact", "ok", "fallback")
"""Statuses whose ``x`` is a trustworthy answer; ``"underdetermined"``, ``"inconsistent"`` and
``"failed"`` are not."""

Array = np.ndarray
Bounds = tuple[float | None, float | None] | None


@dataclass(frozen=True)
class LayerSolveInfo:
    """What happened when one layer of one sample was inverted.

    Attributes:
        method: ``"lp"`` (eq. 3), ``"lp-linf"``, ``"lp-l1"`` or ``"lstsq"`` — the solve that produced ``x``.
        status: ``"exact"`` (noiseless solve, unique and consistent), ``"ok"`` (noisy variant
            accepted), ``"fallback"`` (noiseless LP infeasible/unbounded/inconsistent, ``"linf"``
            accepted instead), ``"underdetermined"`` (rank of the equality rows < n: not unique),
            ``"inconsistent"`` (no threshold accepted), ``"failed"`` (solver error, ``x`` is NaN).
        epsilon: the on/off threshold used (0 for the noiseless LP and non-ReLU layers).
        residual: ``max_i |σ(a_iᵀx + b_i) − y_i|`` of the returned ``x``.
        noise_estimate: the LP's misfit (ℓ∞: ``t*``; ℓ1: mean slack; 0 for the noiseless LP).
        rank: rank of the equality rows (ReLU: rows with ``y_i > ε``; otherwise all rows).
        n_on: number of equality rows.
        lp_status: scipy's status of the last LP (0 optimal, 2 infeasible, 3 unbounded, 4 numerical;
            ``-1`` for least squares).
        lps: number of LPs solved.
        message: why a fallback or failure happened.
    """

    method: str
    status: str
    epsilon: float
    residual: float
    noise_estimate: float
    rank: int
    n_on: int
    lp_status: int
    lps: int
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES


@dataclass(frozen=True)
class LayerSolution:
    """``x``: the recovered input (``n``, float64) and its :class:`LayerSolveInfo`."""

    x: Array
    info: LayerSolveInfo


@dataclass
class InversionDiagnostics:
    """Per-sample, per-layer record of :func:`invert_layerwise`.

    Attributes:
        layers: the layer recovered at each step, from ``start_layer − 1`` down to ``end_layer``.
        solves: ``solves[i][j]``: sample ``i``, step ``j`` (shorter when a step failed).
        seconds: wall time per sample.
    """

    layers: tuple[int, ...]
    solves: list[list[LayerSolveInfo]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def ok(self) -> Array:
        """``N`` bools: every layer of the sample solved with an :data:`OK_STATUSES` status."""
        return np.array([len(s) == len(self.layers) and all(i.ok for i in s) for s in self.solves], dtype=bool)

    def status_counts(self) -> dict[str, int]:
        """How many layer solves ended in each status."""
        counts: dict[str, int] = {}
        for s in self.solves:
            for info in s:
                counts[info.status] = counts.get(info.status, 0) + 1
        return counts

    def summary(self) -> str:
        """One line: samples OK and the status counts."""
        return f"{int(self.ok.sum())}/{len(self.solves)} samples OK; layer solves: {self.status_counts()}"


def _np(a: Array | Tensor | None) -> Array | None:
    if a is None:
        return None
    if isinstance(a, Tensor):
        a = a.detach().cpu().to(torch.float64).numpy()
    return np.asarray(a, dtype=np.float64)


def _activate(pre: Array, activation: str, negative_slope: float) -> Array:
    if activation == "relu":
        return np.maximum(pre, 0.0)
    if activation == "leaky_relu":
        return np.where(pre >= 0, pre, negative_slope * pre)
    if activation == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * pre))
    if activation == "tanh":
        return np.tanh(pre)
    if activation == "identity":
        return pre
    raise ValueError(f"unknown activation {activation!r}")


def _inverse_activation(y: Array, activation: str, negative_slope: float, clip: float) -> Array:
    if activation == "leaky_relu":
        if negative_slope <= 0:
            raise ValueError("leaky_relu with negative_slope <= 0 is not invertible")
        return np.where(y >= 0, y, y / negative_slope)
    if activation == "sigmoid":
        y = np.clip(y, clip, 1.0 - clip)
        return np.log(y) - np.log1p(-y)
    if activation == "tanh":
        return np.arctanh(np.clip(y, -1.0 + clip, 1.0 - clip))
    if activation == "identity":
        return y
    raise ValueError(f"activation {activation!r} has no elementwise inverse")


def _rank(M: Array) -> int:
    return int(np.linalg.matrix_rank(M)) if M.shape[0] else 0


def _bounds(n: int, input_bounds: Bounds) -> list[tuple[float | None, float | None]]:
    lo, hi = input_bounds if input_bounds is not None else (None, None)
    return [(lo, hi)] * n  # explicit: linprog's default would be x ≥ 0


def _linprog(c: Array, time_limit: float, notes: list[str], **problem):
    """``linprog(method="highs")`` with a time limit; if HiGHS's dual simplex stalls (time or
    iteration limit, numerical trouble — seen on very degenerate ℓ∞ problems from float32 data)
    the problem is solved again by HiGHS's interior point method (with crossover), 10× the limit."""
    res = linprog(c, method="highs", options={"time_limit": time_limit}, **problem)
    if res.status in (1, 4):
        notes.append(f"HiGHS simplex stopped ({res.message.split('.')[0]}), retried with highs-ipm")
        res = linprog(c, method="highs-ipm", options={"time_limit": 10 * time_limit}, **problem)
    return res


def _exact_relu_lp(A: Array, b: Array, y: Array, on: Array, input_bounds: Bounds, time_limit: float, notes: list[str]):
    """Eq. 3: ``a_iᵀx = y_i − b_i`` on the ``on`` rows, ``a_iᵀx ≤ −b_i`` elsewhere, zero objective."""
    n = A.shape[1]
    off = ~on
    return _linprog(
        np.zeros(n),
        time_limit,
        notes,
        A_ub=A[off] if off.any() else None,
        b_ub=-b[off] if off.any() else None,
        A_eq=A[on] if on.any() else None,
        b_eq=(y - b)[on] if on.any() else None,
        bounds=_bounds(n, input_bounds),
    )


def _noisy_lp(A: Array, c: Array, on: Array, noise: str, input_bounds: Bounds, time_limit: float, notes: list[str]):
    """The ℓ∞ / ℓ1 LP with threshold already applied (``on``); ``c = y − b``.
    Returns (res, x, noise_estimate)."""
    m, n = A.shape
    if noise == "linf":
        t_col = -np.ones((m, 1))
        rows = [np.hstack([A, t_col])]
        rhs = [c]
        if on.any():
            rows.append(np.hstack([-A[on], t_col[on]]))
            rhs.append(-c[on])
        res = _linprog(
            np.r_[np.zeros(n), 1.0],
            time_limit,
            notes,
            A_ub=np.vstack(rows),
            b_ub=np.concatenate(rhs),
            bounds=_bounds(n, input_bounds) + [(0.0, None)],
        )
        if res.status != 0:
            return res, None, np.inf
        return res, res.x[:n], float(res.x[n])
    return _l1_dual_lp(A, c, on, input_bounds, time_limit, notes)


def _l1_dual_lp(A: Array, c: Array, on: Array, input_bounds: Bounds, time_limit: float, notes: list[str]):
    """The ℓ1 LP solved through its dual, which has ``n`` equality rows instead of ``m + |on|``
    inequality rows (2–3× faster with HiGHS on 500×100 layers; same optimum).

    The primal is ``min_{lo ≤ x ≤ hi} Σ_on |r_i| + Σ_off max(r_i, 0)``, ``r = A x − c``. Writing
    each term as ``max_{u_i} u_i r_i`` with ``u_i ∈ [−1, 1]`` (on) or ``[0, 1]`` (off), and
    ``min_{lo ≤ x ≤ hi} gᵀx = max {loᵀv − hiᵀw : v − w = g, v, w ≥ 0}``, strong duality gives

        max  −cᵀu + loᵀv − hiᵀw   s.t.   Aᵀu − v + w = 0

    (``v_j`` only where ``lo_j`` is finite, ``w_j`` only where ``hi_j`` is). ``x`` is the
    multiplier of the ``n`` equality rows; the optimal value is ``Σ s_i`` of the primal.
    Returns (res, x, mean slack)."""
    m, n = A.shape
    lo, hi = input_bounds if input_bounds is not None else (None, None)
    columns, cost = [A.T], [c]
    bounds = [(-1.0 if on_i else 0.0, 1.0) for on_i in on]
    if lo is not None:
        columns.append(-np.eye(n))
        cost.append(-np.full(n, float(lo)))
        bounds += [(0.0, None)] * n
    if hi is not None:
        columns.append(np.eye(n))
        cost.append(np.full(n, float(hi)))
        bounds += [(0.0, None)] * n
    res = _linprog(np.concatenate(cost), time_limit, notes, A_eq=np.hstack(columns), b_eq=np.zeros(n), bounds=bounds)
    if res.status != 0:
        return res, None, np.inf
    return res, np.asarray(res.eqlin.marginals, dtype=np.float64), float(-res.fun / m)


def _residual(A: Array, b: Array, y: Array, x: Array, activation: str, negative_slope: float) -> float:
    return float(np.max(np.abs(_activate(A @ x + b, activation, negative_slope) - y), initial=0.0))


def _failed(n: int, method: str, res, eps: float, lps: int, message: str) -> LayerSolution:
    status = -1 if res is None else int(res.status)
    info = LayerSolveInfo(method, "failed", eps, np.inf, np.inf, 0, 0, status, lps, message)
    return LayerSolution(np.full(n, np.nan), info)


def _smallest_accepted(accepted, guess: int, lo: int, hi: int) -> tuple[int, int | None]:
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


def _relu_noisy(
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
    """ℓ∞ / ℓ1 inversion of a ReLU layer with the threshold schedule of the module docstring."""
    m, n = A.shape
    notes: list[str] = []
    lps, message = 0, ""
    c = y - b
    scale = float(np.max(np.abs(y), initial=0.0)) or 1.0
    grid = [tol] + [scale * eps_min * 2.0**j for j in range(eps_steps + 1)]
    method = f"lp-{noise}"
    cache: dict[int, tuple] = {}

    def rank_at(j: int) -> int:
        return _rank(A[y > grid[j]])

    def solve(j: int):
        nonlocal lps
        if j not in cache:
            on = y > grid[j]
            res, x, est = _noisy_lp(A, c, on, noise, input_bounds, time_limit, notes)
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
        lo, hi = _smallest_accepted(lambda j: solve(j)[3], guess, 0, j_max)
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
        return _failed(n, method, res, grid[j_best], lps, f"{message}{noise} LP: {res.message}")
    rank = rank_at(j_best)
    if rank < n:
        status = "underdetermined"
        message += f"rank of on rows {rank} < {n}: preimage not unique"
    elif not accepted:
        status = "inconsistent"
        message += f"no threshold accepted (misfit {est:.3g} > ε at the largest full-rank ε {grid[j_best]:.3g})"
    else:
        status = "ok"
    info = LayerSolveInfo(method, status, grid[j_best], _residual(A, b, y, x, "relu", 0.0), est, rank, n_on, int(res.status), lps, message)
    return LayerSolution(x, info)


class ThresholdSearchMemo:
    """ReLU threshold searches (:func:`_relu_noisy`) already done, by problem, for reuse.

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
        """:func:`_relu_noisy` ``(noise, A, b, y, *options)``, from the memo when already done."""
        key = (noise, A.shape, hash(A.tobytes()), hash(b.tobytes()), y.tobytes(), *options)
        if key in self._solutions:
            solution, seconds = self._solutions[key]
            self.reused_seconds += seconds
            return solution
        t0 = time.perf_counter()
        solution = _relu_noisy(noise, A, b, y, *options)
        self._solutions[key] = (solution, time.perf_counter() - t0)
        return solution


def invert_layer(
    A: Array | Tensor,
    b: Array | Tensor | None,
    y: Array | Tensor,
    *,
    activation: str = "relu",
    negative_slope: float = 0.2,
    noise: str = "none",
    input_bounds: Bounds = None,
    rtol: float = 1e-7,
    eps_min: float = 1e-6,
    eps_steps: int = 20,
    clip: float = 1e-12,
    time_limit: float = 2.0,
    memo: ThresholdSearchMemo | None = None,
) -> LayerSolution:
    """Invert one layer ``y = σ(A x + b)`` (+ noise): the solver of the module docstring.

    Args:
        A: ``m × n`` weight matrix (numpy or torch; used in float64).
        b: ``m`` offset, or None for zero.
        y: ``m`` observed output.
        activation: σ, one of relu, leaky_relu, sigmoid, tanh, identity.
        negative_slope: LeakyReLU's slope.
        noise: ``"none"`` (Lei et al. eq. 3 for ReLU / least squares otherwise), ``"linf"``, ``"l1"``.
        input_bounds: ``(lo, hi)`` known for every entry of ``x`` (None = free).
        rtol: a noiseless solve is consistent when ``max|σ(Ax+b) − y| ≤ rtol · max(max|y|, 1)``;
            also the slack allowed in the acceptance test of the noisy variants.
        eps_min: the smallest non-zero threshold, relative to ``max|y|``.
        eps_steps: the threshold grid has ``eps_steps + 1`` doublings above ``eps_min``.
        clip: sigmoid/tanh outputs are clipped this far inside their range before inversion.
        time_limit: seconds for HiGHS's simplex on one LP before the interior-point retry.
        memo: reuse the ReLU threshold searches already done on the same problem (see
            :class:`ThresholdSearchMemo`).

    Returns:
        :class:`LayerSolution` with ``x``: ``n`` float64 and the solve's :class:`LayerSolveInfo`.
    """
    if noise not in NOISE_MODES:
        raise ValueError(f"noise must be one of {NOISE_MODES}, got {noise!r}")
    A, y = _np(A), _np(y).reshape(-1)
    m, n = A.shape
    b = np.zeros(m) if b is None else _np(b).reshape(-1)
    if y.shape != (m,) or b.shape != (m,):
        raise ValueError(f"A is {m}×{n} but y has shape {y.shape} and b {b.shape}")
    if not np.all(np.isfinite(y)):
        return _failed(n, "lp" if noise == "none" else f"lp-{noise}", None, 0.0, 0, "non-finite y")
    tol = rtol * max(float(np.max(np.abs(y), initial=0.0)), 1.0)
    notes: list[str] = []

    if activation != "relu":
        pre = _inverse_activation(y, activation, negative_slope, clip)
        c = pre - b
        every = np.ones(m, dtype=bool)
        if noise == "none":
            x, _, rank, _ = lstsq(A, c)
            residual = _residual(A, b, y, x, activation, negative_slope)
            if rank < n:
                info = LayerSolveInfo("lstsq", "underdetermined", 0.0, residual, 0.0, int(rank), m, -1, 0, f"rank {rank} < {n}")
                return LayerSolution(x, info)
            if residual <= tol:
                return LayerSolution(x, LayerSolveInfo("lstsq", "exact", 0.0, residual, 0.0, int(rank), m, -1, 0))
            message = f"least squares residual {residual:.3g} > {tol:.3g}; "
            noise_used, status_ok = "linf", "fallback"
        else:
            message, noise_used, status_ok = "", noise, "ok"
        res, x, est = _noisy_lp(A, c, every, noise_used, input_bounds, time_limit, notes)
        message += "".join(f"{note}; " for note in notes)
        if x is None:
            return _failed(n, f"lp-{noise_used}", res, 0.0, 1, f"{message}{noise_used} LP: {res.message}")
        rank = _rank(A)
        status = status_ok if rank == n else "underdetermined"
        info = LayerSolveInfo(
            f"lp-{noise_used}", status, 0.0, _residual(A, b, y, x, activation, negative_slope), est, rank, m, int(res.status), 1, message
        )
        return LayerSolution(x, info)

    problem = (A, b, y, input_bounds, eps_min, eps_steps, tol, time_limit)

    def threshold_search(mode: str) -> LayerSolution:
        return memo.search(mode, *problem) if memo is not None else _relu_noisy(mode, *problem)

    if noise != "none":
        return threshold_search(noise)
    on = y > tol  # recovered inner layers carry ~1e-13 round-off where the truth is exactly 0
    res = _exact_relu_lp(A, b, y, on, input_bounds, time_limit, notes)
    if res.status == 0:
        x = res.x
        residual = _residual(A, b, y, x, "relu", 0.0)
        rank = _rank(A[on])
        if residual <= tol:
            status = "exact" if rank == n else "underdetermined"
            message = "" if rank == n else f"rank of on rows {rank} < {n}: preimage not unique"
            return LayerSolution(x, LayerSolveInfo("lp", status, 0.0, residual, 0.0, rank, int(on.sum()), 0, 1, message))
        message = f"eq. 3 LP solution inconsistent (residual {residual:.3g} > {tol:.3g}); "
    else:
        message = f"eq. 3 LP status {res.status} ({res.message.strip()}); "
    message += "".join(f"{note}; " for note in notes)
    sol = threshold_search("linf")
    info = replace(
        sol.info,
        status="fallback" if sol.info.status == "ok" else sol.info.status,
        lps=sol.info.lps + 1,
        message=message + sol.info.message,
    )
    return LayerSolution(sol.x, info)


def invert_relu_layer(
    A: Array | Tensor,
    b: Array | Tensor | None,
    y: Array | Tensor,
    *,
    noise: str = "none",
    input_bounds: Bounds = None,
    return_info: bool = False,
    **options,
) -> Array | tuple[Array, LayerSolveInfo]:
    """Invert ``y = ReLU(A x + b)`` (+ noise) by Lei et al.'s LP (Section 3 eq. 3; Section 4).

    Args:
        A: ``m × n``; b: ``m`` or None; y: ``m``.
        noise: ``"none"``, ``"linf"`` or ``"l1"`` (see the module docstring).
        input_bounds: ``(lo, hi)`` for every entry of ``x``, e.g. ``(0, None)`` if ``x`` is a ReLU output.
        return_info: also return the :class:`LayerSolveInfo`.
        **options: ``rtol``, ``eps_min``, ``eps_steps``, ``time_limit`` of :func:`invert_layer`.

    Returns:
        ``x``: ``n`` float64 (NaN if the solver failed), and the info if asked.
    """
    sol = invert_layer(A, b, y, activation="relu", noise=noise, input_bounds=input_bounds, **options)
    return (sol.x, sol.info) if return_info else sol.x


def input_bounds_for(generator: StagedGenerator, layer: int) -> Bounds:
    """Bounds every entry of ``h_layer`` is known to satisfy: from the activation of the stage that
    produced it (``relu`` → ``[0, ∞)``, ``sigmoid`` → ``[0, 1]``, ``tanh`` → ``[−1, 1]``); None for
    the latent and other activations."""
    if layer == 0:
        return None
    return {"relu": (0.0, None), "sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}.get(generator.stages[layer - 1].activation)


def invert_layerwise(
    generator: StagedGenerator,
    x: Tensor,
    *,
    noise: str = "none",
    start_layer: int | None = None,
    end_layer: int = 0,
    progress: bool = False,
    affines: Sequence[tuple[Tensor, Tensor]] | None = None,
    memo: ThresholdSearchMemo | None = None,
    **options,
) -> tuple[Tensor, InversionDiagnostics]:
    """Invert ``generator`` one layer at a time (Lei et al. 2019, Section 3.1 / Theorem 4).

    ``x = h_start`` is taken back through stages ``start − 1, …, end_layer`` with
    :func:`invert_layer`, the dense ``(A, b)`` of every stage from :func:`stage_affine` (computed
    once, shared by all samples), and the bounds of :func:`input_bounds_for`. A sample whose layer
    solve fails (NaN) stops there and its result is NaN.

    Args:
        generator: the :class:`StagedGenerator`.
        x: ``N × layer_shapes()[start_layer]`` (the image for the default start).
        noise: ``"none"``, ``"linf"`` or ``"l1"``, used at every layer.
        start_layer: the layer ``x`` lives in (default ``num_stages``, the image).
        end_layer: the layer to recover (default 0, the latent).
        progress: tqdm bar over samples.
        affines: precomputed ``stage_affine`` results for *all* stages (to time or reuse them).
        memo: a :class:`ThresholdSearchMemo` shared with other calls on the same data; a sample's
            ``seconds`` then include the time its reused searches took when they were done.
        **options: passed to :func:`invert_layer` (``rtol``, ``eps_min``, ``eps_steps``, ``clip``,
            ``time_limit``).

    Returns:
        ``(h_end, diagnostics)``: ``h_end`` is ``N × layer_shapes()[end_layer]`` float64 on the CPU.
    """
    start = generator.num_stages if start_layer is None else generator.check_layer(start_layer)
    end = generator.check_layer(end_layer)
    if end >= start:
        raise ValueError(f"end_layer ({end}) must be below start_layer ({start})")
    shapes = generator.layer_shapes()
    if tuple(x.shape[1:]) != shapes[start]:
        raise ValueError(f"x must be N × {shapes[start]} (layer {start}), got {tuple(x.shape)}")
    if affines is None:
        affines = [None] * generator.num_stages
        for k in range(end, start):
            affines[k] = stage_affine(generator.stages[k], shapes[k])
    steps = list(range(start - 1, end - 1, -1))
    diagnostics = InversionDiagnostics(layers=tuple(steps))
    ys = x.detach().cpu().to(torch.float64).reshape(x.shape[0], -1).numpy()
    n_end = int(np.prod(shapes[end]))
    out = np.full((x.shape[0], n_end), np.nan)
    for i in tqdm(range(x.shape[0]), desc=f"LP inversion ({noise})", unit="sample", disable=not progress):
        t0 = time.perf_counter()
        reused0 = memo.reused_seconds if memo is not None else 0.0
        y, solves = ys[i], []
        for k in steps:
            stage = generator.stages[k]
            A, b = affines[k]
            sol = invert_layer(
                A,
                b,
                y,
                activation=stage.activation,
                negative_slope=stage.negative_slope,
                noise=noise,
                input_bounds=input_bounds_for(generator, k),
                memo=memo,
                **options,
            )
            solves.append(sol.info)
            y = sol.x
            if sol.info.status == "failed":
                break
        else:
            out[i] = y
        diagnostics.solves.append(solves)
        reused = memo.reused_seconds - reused0 if memo is not None else 0.0
        diagnostics.seconds.append(time.perf_counter() - t0 + reused)
    return torch.from_numpy(out).reshape(x.shape[0], *shapes[end]), diagnostics
