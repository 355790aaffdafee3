"""Euclidean projection onto the l1 ball, batched (Duchi, Shalev-Shwartz, Singer & Chandra 2008).

ILO (Daras et al. 2021, Algorithm 1) keeps each intermediate-layer iterate inside an l1 ball
around the range of the previous layers; this is the projection it needs,

    P_r(v) = argmin_w ‖w − v‖₂  subject to  ‖w‖₁ ≤ r,

solved exactly by the sort-based algorithm of Duchi et al. (2008, "Efficient projections onto the
l1-ball for learning in high dimensions", ICML, Figure 1 with Lemma 3 for the l1 ball): if
``‖v‖₁ ≤ r`` then ``w = v``; otherwise, with ``u = |v|`` sorted decreasingly,

    ρ = max{ j : u_j − (Σ_{i≤j} u_i − r) / j > 0 },   θ = (Σ_{i≤ρ} u_i − r) / ρ,
    w = sign(v) ⊙ max(|v| − θ, 0).

Every row of a batch is projected at once: one sort, one cumulative sum and one gather over the
``N×d`` matrix, ``O(N d log d)``, no Python loop over rows.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["project_l1_ball", "project_l1_ball_around"]


def _row_radii(radius: float | Tensor, rows: int, like: Tensor, check: bool = True) -> Tensor:
    """``radius`` as an ``(N,)`` tensor of ``like``'s dtype and device; ``ValueError`` if negative."""
    r = torch.as_tensor(radius, dtype=like.dtype, device=like.device)
    if r.dim() == 0 or r.numel() == 1:
        r = r.reshape(()).expand(rows)
    elif tuple(r.shape) != (rows,):
        raise ValueError(f"radius must be a scalar or a tensor of shape (N,) = ({rows},), got shape {tuple(r.shape)}")
    if check and not bool((r >= 0).all()):  # NaN fails too
        raise ValueError("radius must be ≥ 0 (and not NaN)")
    return r


def project_l1_ball(v: Tensor, radius: float | Tensor, *, check: bool = True) -> Tensor:
    """Project each row of ``v`` (``N×…``, flattened over all but dim 0) onto ``{w : ‖w‖₁ ≤ r}``.

    Args:
        v: a batch ``N×…`` (at least 2-D; use ``v[None]`` for one vector).
        radius: ``r ≥ 0``, a number or a tensor of shape ``(N,)`` (one radius per row).
        check: check that the radii are ≥ 0 (which waits for the device); ``False`` for a caller
            that projects with the same valid radii at every step (ILO).

    Returns:
        The projections, same shape, dtype and device as ``v``. Rows already inside their ball
        are returned unchanged; radius 0 gives zeros. Differentiable almost everywhere.

    Raises:
        ValueError: ``v`` is 0-D/1-D, ``radius`` is negative, NaN, or of the wrong shape.
    """
    if v.dim() < 2:
        raise ValueError(f"v must be a batch N×… (at least 2-D), got shape {tuple(v.shape)}; use v[None] for one vector")
    rows = v.shape[0]
    r = _row_radii(radius, rows, v, check)
    flat = v.flatten(1)
    if flat.shape[1] == 0:
        return v.clone()
    magnitudes = flat.abs()
    sorted_desc = torch.sort(magnitudes, dim=1, descending=True).values
    cumulative = torch.cumsum(sorted_desc, dim=1)
    ranks = torch.arange(1, flat.shape[1] + 1, device=v.device, dtype=v.dtype)
    positive = sorted_desc - (cumulative - r[:, None]) / ranks > 0
    # ρ = the largest j (1-based) with a positive gap; 0 only for r = 0, where θ = max|v| below works
    rho = torch.where(positive, ranks, torch.zeros((), dtype=v.dtype, device=v.device)).amax(dim=1)
    rho_index = (rho.long() - 1).clamp(min=0)
    theta = (cumulative.gather(1, rho_index[:, None]).squeeze(1) - r) / rho.clamp(min=1)
    theta = torch.where(rho > 0, theta, sorted_desc[:, 0])  # r = 0: shrink everything to 0
    projected = torch.sign(flat) * (magnitudes - theta[:, None]).clamp(min=0)
    projected = torch.where((r > 0)[:, None], projected, torch.zeros((), dtype=v.dtype, device=v.device))
    inside = magnitudes.sum(dim=1) <= r
    return torch.where(inside[:, None], flat, projected).view_as(v)


def project_l1_ball_around(x: Tensor, center: Tensor, radius: float | Tensor, *, check: bool = True) -> Tensor:
    """Project each row of ``x`` onto the l1 ball of radius ``r`` around ``center``: ``c + P_r(x − c)``.

    Args:
        x: a batch ``N×…``.
        center: the centres, broadcastable to ``x`` (e.g. ``N×…`` or ``1×…``).
        radius: ``r ≥ 0``, a number or an ``(N,)`` tensor.
        check: as in :func:`project_l1_ball`.

    Returns:
        ``N×…``, the shape of ``x``.
    """
    center = center.expand_as(x)
    return center + project_l1_ball(x - center, radius, check=check)
