"""The linear programs of Lei et al.'s layer inversion (NeurIPS 2019), solved by scipy's HiGHS.

For one layer ``y = ReLU(A x + b)`` (``A``: ``m × n``):

* :func:`exact_relu_lp` — Section 3, eq. 3: every positive output gives an equality, every zero
  output an inequality, ``a_iᵀx + b_i = y_i`` (on), ``a_iᵀx + b_i ≤ 0`` (off); zero objective.
* :func:`noisy_lp` with ``"linf"`` — their ℓ∞ algorithm (Section 4): ``min t`` s.t.
  ``|a_iᵀx + b_i − y_i| ≤ t`` on the rows taken as on and ``a_iᵀx + b_i ≤ y_i + t`` off them (off
  rows use ``≤ y_i + t`` rather than ``≤ t``: the true ``x*`` is then feasible with ``t = ‖e‖∞``);
* ``"l1"`` — their ℓ1 algorithm (sparse noise): ``min Σ s_i`` with slacks in place of ``t``,
  solved through its dual (:func:`l1_dual_lp`).

When the layer's input is itself a ReLU (sigmoid, tanh) output, the LPs get the bounds ``x ≥ 0``
(``[0, 1]``, ``[−1, 1]``): true facts that keep one layer's errors from giving the next impossible
inputs.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from deeprestore.generative.lp_solve_info import Array

__all__ = ["Bounds", "exact_relu_lp", "l1_dual_lp", "noisy_lp", "rank"]

Bounds = tuple[float | None, float | None] | None


def rank(M: Array) -> int:
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


def exact_relu_lp(A: Array, b: Array, y: Array, on: Array, input_bounds: Bounds, time_limit: float, notes: list[str]):
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


def noisy_lp(A: Array, c: Array, on: Array, noise: str, input_bounds: Bounds, time_limit: float, notes: list[str]):
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
    return l1_dual_lp(A, c, on, input_bounds, time_limit, notes)


def l1_dual_lp(A: Array, c: Array, on: Array, input_bounds: Bounds, time_limit: float, notes: list[str]):
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
