"""Layer-wise inversion of a generator by linear programming (Lei, Jalal, Dhillon & Dimakis 2019,
"Inverting deep generative models, one layer at a time", NeurIPS).

One layer ``y = ReLU(A x + b)`` (``A``: ``m × n``, ``m > n``) is inverted exactly by the linear
program of their Section 3 (eq. 3; :mod:`deeprestore.generative.lp_programs`). In floating point
"positive" means ``y_i > rtol · max(max_i |y_i|, 1)``, ``rtol = 1e-7``: inner layers recovered by a
previous LP carry round-off of ~1e-13 where the truth is exactly zero. Its solution is unique when
the rows with ``y_i > 0`` have rank ``n`` (with high probability once ``m ≳ 2.1 n`` for Gaussian
``A``, their Theorem 3). A deep generator is inverted from the image back to the latent, one layer
at a time (Section 3.1; Theorem 4 for random expanding networks): :func:`invert_layerwise`.

Noisy observations use the ℓ∞ or ℓ1 variant with a searched threshold
(:mod:`deeprestore.generative.lp_threshold_search`). Other invertible activations (leaky_relu,
sigmoid, tanh, identity) are inverted elementwise (sigmoid/tanh outputs clipped into the open range
first) and ``A x = σ⁻¹(y) − b`` solved by least squares (``noise="none"``) or by the ℓ∞ / ℓ1 LP with
every row an equality row.

Failures are explicit (:class:`~deeprestore.generative.lp_solve_info.SolveStatus`): an
infeasible, unbounded or inconsistent noiseless problem falls back to the ℓ∞ variant
(``fallback``); a layer whose equality rows have rank ``< n`` is ``underdetermined``; a solver
error gives ``x = NaN`` (``failed``). Every solve is described by a
:class:`~deeprestore.generative.lp_solve_info.LayerSolveInfo`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch
from scipy.linalg import lstsq
from torch import Tensor
from tqdm.auto import tqdm

from deeprestore.generative.lp_programs import Bounds, exact_relu_lp, noisy_lp, rank
from deeprestore.generative.lp_solve_info import OK_STATUSES, Array, InversionDiagnostics, LayerSolution, LayerSolveInfo, SolveStatus
from deeprestore.generative.lp_threshold_search import ThresholdSearchMemo, failed_solution, relu_residual, relu_threshold_search
from deeprestore.generative.stage_matrix import stage_affine
from deeprestore.generative.staged_generator import StagedGenerator

__all__ = [
    "NOISE_MODES",
    "OK_STATUSES",
    "InversionDiagnostics",
    "LayerSolution",
    "LayerSolveInfo",
    "SolveStatus",
    "ThresholdSearchMemo",
    "input_bounds_for",
    "invert_layer",
    "invert_layerwise",
    "invert_relu_layer",
]

NOISE_MODES = ("none", "linf", "l1")


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
        return failed_solution(n, "lp" if noise == "none" else f"lp-{noise}", None, 0.0, 0, "non-finite y")
    tol = rtol * max(float(np.max(np.abs(y), initial=0.0)), 1.0)
    if activation != "relu":
        pre = _inverse_activation(y, activation, negative_slope, clip)
        return _invert_affine(A, b, y, pre - b, activation, negative_slope, noise, input_bounds, tol, time_limit)
    return _invert_relu(A, b, y, noise, input_bounds, (eps_min, eps_steps, tol, time_limit), memo)


def _invert_affine(
    A: Array,
    b: Array,
    y: Array,
    c: Array,
    activation: str,
    negative_slope: float,
    noise: str,
    input_bounds: Bounds,
    tol: float,
    time_limit: float,
) -> LayerSolution:
    """``A x = c`` (``c = σ⁻¹(y) − b`` of an invertible σ) by least squares, or by the ℓ∞ / ℓ1 LP
    with every row an equality row (noisy data, or an inconsistent least-squares solution)."""
    m, n = A.shape

    def residual(x: Array) -> float:
        return float(np.max(np.abs(_activate(A @ x + b, activation, negative_slope) - y), initial=0.0))

    if noise == "none":
        x, _, lstsq_rank, _ = lstsq(A, c)
        solved = {
            "method": "lstsq",
            "epsilon": 0.0,
            "residual": residual(x),
            "noise_estimate": 0.0,
            "rank": int(lstsq_rank),
            "n_on": m,
            "lp_status": -1,
            "lps": 0,
        }
        if lstsq_rank < n:
            return LayerSolution(x, LayerSolveInfo(status=SolveStatus.UNDERDETERMINED, message=f"rank {lstsq_rank} < {n}", **solved))
        if solved["residual"] <= tol:
            return LayerSolution(x, LayerSolveInfo(status=SolveStatus.EXACT, **solved))
        message = f"least squares residual {solved['residual']:.3g} > {tol:.3g}; "
        noise_used, accepted = "linf", SolveStatus.FALLBACK
    else:
        message, noise_used, accepted = "", noise, SolveStatus.OK
    notes: list[str] = []
    res, x, estimate = noisy_lp(A, c, np.ones(m, dtype=bool), noise_used, input_bounds, time_limit, notes)
    message += "".join(f"{note}; " for note in notes)
    if x is None:
        return failed_solution(n, f"lp-{noise_used}", res, 0.0, 1, f"{message}{noise_used} LP: {res.message}")
    full_rank = rank(A)
    info = LayerSolveInfo(
        method=f"lp-{noise_used}",
        status=accepted if full_rank == n else SolveStatus.UNDERDETERMINED,
        epsilon=0.0,
        residual=residual(x),
        noise_estimate=estimate,
        rank=full_rank,
        n_on=m,
        lp_status=int(res.status),
        lps=1,
        message=message,
    )
    return LayerSolution(x, info)


def _invert_relu(
    A: Array,
    b: Array,
    y: Array,
    noise: str,
    input_bounds: Bounds,
    search: tuple[float, int, float, float],
    memo: ThresholdSearchMemo | None,
) -> LayerSolution:
    """A ReLU layer: eq. 3 on noiseless data (the ℓ∞ threshold search if it is infeasible,
    unbounded or inconsistent), the threshold search of the noise mode otherwise. ``search``:
    ``(eps_min, eps_steps, tol, time_limit)``."""
    n = A.shape[1]
    eps_min, eps_steps, tol, time_limit = search
    problem = (A, b, y, input_bounds, eps_min, eps_steps, tol, time_limit)

    def threshold_search(mode: str) -> LayerSolution:
        return memo.search(mode, *problem) if memo is not None else relu_threshold_search(mode, *problem)

    if noise != "none":
        return threshold_search(noise)
    notes: list[str] = []
    on = y > tol  # recovered inner layers carry ~1e-13 round-off where the truth is exactly 0
    res = exact_relu_lp(A, b, y, on, input_bounds, time_limit, notes)
    if res.status == 0:
        x = res.x
        residual = relu_residual(A, b, y, x)
        on_rank = rank(A[on])
        if residual <= tol:
            unique = on_rank == n
            info = LayerSolveInfo(
                method="lp",
                status=SolveStatus.EXACT if unique else SolveStatus.UNDERDETERMINED,
                epsilon=0.0,
                residual=residual,
                noise_estimate=0.0,
                rank=on_rank,
                n_on=int(on.sum()),
                lp_status=0,
                lps=1,
                message="" if unique else f"rank of on rows {on_rank} < {n}: preimage not unique",
            )
            return LayerSolution(x, info)
        message = f"eq. 3 LP solution inconsistent (residual {residual:.3g} > {tol:.3g}); "
    else:
        message = f"eq. 3 LP status {res.status} ({res.message.strip()}); "
    message += "".join(f"{note}; " for note in notes)
    sol = threshold_search("linf")
    info = replace(
        sol.info,
        status=SolveStatus.FALLBACK if sol.info.status == SolveStatus.OK else sol.info.status,
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
            if sol.info.status == SolveStatus.FAILED:
                break
        else:
            out[i] = y
        diagnostics.solves.append(solves)
        reused = memo.reused_seconds - reused0 if memo is not None else 0.0
        diagnostics.seconds.append(time.perf_counter() - t0 + reused)
    return torch.from_numpy(out).reshape(x.shape[0], *shapes[end]), diagnostics
