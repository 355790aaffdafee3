"""How far a matrix over a 2-D grid is from stationary ("Toeplitz"); Harder 2017, §4.1, figure 4.

A matrix ``M`` over the positions of an ``h×w`` grid (``D = h·w``, position ``p = i·w + j``,
row-major as :func:`~deeprestore.stats.covariance.spatial_samples` flattens) is *stationary*
when ``M[p, q]`` depends only on the displacement ``q − p = (di, dj)``: a doubly block-Toeplitz
matrix (block-Toeplitz in ``di`` with Toeplitz blocks in ``dj``). The covariance of a spatially
stationary random field is such a matrix; the thesis finds that the average covariance of VGG16
``pool5`` maps and, apart from border effects, its inverse are close to Toeplitz, which
motivates convolutional and patch-based priors.

The stationary matrices form a linear subspace, and the orthogonal projection onto it (in the
Frobenius inner product) replaces every entry by the mean of all entries with the same
displacement (:func:`toeplitz_projection`). So ``T(M)`` is the *nearest* stationary matrix, and
:func:`toeplitz_distance` reports ``‖M − T(M)‖_F / ‖M‖_F ∈ [0, 1]``: 0 for a stationary matrix.

Border effects (zero padding, the image edge) make rows of border positions differ; they show as

* :func:`toeplitz_distance` with ``border = b``: the same number for the *interior* sub-grid only
  (rows and columns of positions at least ``b`` from every edge, projected within that sub-grid),
  so ``distance(b=0) − distance(b)`` is the share due to the outer ``b`` rings;
* :func:`toeplitz_deviation_map`: ``‖(M − T(M))[p, :]‖ / ‖M[p, :]‖`` per position, an ``h×w`` map,
  with ``T`` fitted to the interior (``fit_border``) so that border rows do not bias the fit.

Equivalently, the interior distance is ``‖(M − T_b(M))_II‖ / ‖M_II‖`` where ``T_b`` is the
stationary matrix fitted to the interior ``I`` (:func:`toeplitz_projection` with ``fit_border=b``).

Caveat: a small sub-grid has few entries per displacement, so even an unstructured matrix is
closer to its projection there (a 2×2 grid has 9 displacements for 16 entries). Compare interior
distances of similar sizes, or against the same measure on a reference matrix.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "displacement_index",
    "key_means",
    "interior_positions",
    "toeplitz_deviation_map",
    "toeplitz_distance",
    "toeplitz_projection",
]


def _check(matrix: Tensor, h: int, w: int) -> None:
    if h < 1 or w < 1:
        raise ValueError(f"grid size must be positive, got {h}×{w}")
    if matrix.ndim != 2 or matrix.shape != (h * w, h * w):
        raise ValueError(f"expected a {h * w}×{h * w} matrix for a {h}×{w} grid, got shape {tuple(matrix.shape)}")


def displacement_index(h: int, w: int, device: torch.device | None = None) -> Tensor:
    """``D×D`` long tensor: a unique index of the displacement ``q − p`` for every pair ``(p, q)``.

    The index of ``(di, dj)`` is ``(di + h − 1)·(2w − 1) + (dj + w − 1)``, in ``[0, (2h−1)(2w−1))``.
    """
    i = torch.arange(h, device=device).repeat_interleave(w)
    j = torch.arange(w, device=device).repeat(h)
    di = i[None, :] - i[:, None] + (h - 1)
    dj = j[None, :] - j[:, None] + (w - 1)
    return di * (2 * w - 1) + dj


def key_means(values: Tensor, key: Tensor, bins: int) -> Tensor:
    """Mean of ``values`` over the entries sharing each key: a ``bins`` vector (0 where no entry has that key).

    Args:
        values: any shape.
        key: long, the shape of ``values``, in ``[0, bins)``.
    """
    flat_key = key.flatten()
    sums = torch.zeros(bins, dtype=values.dtype, device=values.device).index_add_(0, flat_key, values.flatten())
    counts = torch.bincount(flat_key, minlength=bins).to(values.dtype)
    return sums / counts.clamp_min(1)


def toeplitz_projection(matrix: Tensor, h: int, w: int, fit_border: int = 0) -> Tensor:
    """Nearest stationary (doubly block-Toeplitz) matrix to ``matrix`` over an ``h×w`` grid.

    With ``fit_border = 0`` every entry is replaced by the mean of the entries with the same
    displacement: the orthogonal projection in the Frobenius inner product (a symmetric input
    gives a symmetric output). With ``fit_border = b > 0`` the mean of each displacement is taken
    only over pairs of *interior* positions (at least ``b`` from every edge) — the stationary matrix
    fitted to the interior, extended to the whole grid — so that strong border effects do not leak
    into the fit; displacements that no interior pair has fall back to the mean over all pairs.

    Args:
        matrix: ``(h·w)×(h·w)``, rows and columns in row-major grid order.
        fit_border: the border left out of the fit.

    Returns:
        ``T(M)``, same shape and dtype.
    """
    _check(matrix, h, w)
    key = displacement_index(h, w, matrix.device)
    bins = (2 * h - 1) * (2 * w - 1)
    means = key_means(matrix, key, bins)
    if fit_border:
        keep = interior_positions(h, w, fit_border).to(matrix.device)
        inner_key = key[keep][:, keep]
        inner_counts = torch.bincount(inner_key.flatten(), minlength=bins)
        means = torch.where(inner_counts > 0, key_means(matrix[keep][:, keep], inner_key, bins), means)
    return means[key]


def interior_positions(h: int, w: int, border: int) -> Tensor:
    """Flat indices (row-major) of the positions at least ``border`` from every edge of an ``h×w`` grid.

    Raises:
        ValueError: ``border < 0`` or nothing left (``h − 2·border < 1`` or ``w − 2·border < 1``).
    """
    if border < 0:
        raise ValueError(f"border must be non-negative, got {border}")
    if h - 2 * border < 1 or w - 2 * border < 1:
        raise ValueError(f"border {border} leaves no interior in a {h}×{w} grid")
    rows = torch.arange(border, h - border)
    cols = torch.arange(border, w - border)
    return (rows[:, None] * w + cols[None, :]).flatten()


def _interior(matrix: Tensor, h: int, w: int, border: int) -> tuple[Tensor, int, int]:
    """The sub-matrix of the interior positions and the interior grid size."""
    if not border:
        return matrix, h, w
    keep = interior_positions(h, w, border).to(matrix.device)
    return matrix[keep][:, keep], h - 2 * border, w - 2 * border


def toeplitz_distance(matrix: Tensor, h: int, w: int, border: int = 0, scale: Tensor | None = None) -> float:
    """Relative Frobenius distance ``‖M − T(M)‖ / ‖M‖`` from the nearest stationary matrix.

    Args:
        matrix: ``(h·w)×(h·w)`` over an ``h×w`` grid (row-major).
        border: ``0`` for the whole matrix; ``b > 0`` for the interior only: the sub-matrix of the
            ``(h−2b)×(w−2b)`` positions at least ``b`` from every edge, projected within that sub-grid.
        scale: divide by ``‖scale‖`` (its interior) instead of ``‖matrix‖`` — e.g. the non-stationary
            part of a noise estimate relative to the estimated matrix.

    Returns:
        A number in ``[0, 1]`` without ``scale`` (0 for a stationary matrix; 0 for the zero matrix).
    """
    _check(matrix, h, w)
    m, hi, wi = _interior(matrix.to(torch.float64), h, w, border)
    reference = m if scale is None else _interior(scale.to(torch.float64), h, w, border)[0]
    norm = torch.linalg.matrix_norm(reference)
    if norm == 0:
        return 0.0
    return float(torch.linalg.matrix_norm(m - toeplitz_projection(m, hi, wi)) / norm)


def toeplitz_deviation_map(matrix: Tensor, h: int, w: int, fit_border: int = 0) -> Tensor:
    """Per-position deviation from stationarity: ``‖(M − T(M))[p, :]‖₂ / ‖M[p, :]‖₂`` as an ``h×w`` map.

    ``T`` is :func:`toeplitz_projection` with ``fit_border``: with ``0`` the projection of the whole
    grid, so a strong border effect also shifts the fit and lights up interior rows; with ``b > 0``
    the stationary matrix fitted to the interior, so interior rows deviate only through their
    entries in border columns and border effects show as a bright frame. A position whose row is
    zero gets 0.

    Returns:
        ``h×w`` float64.
    """
    _check(matrix, h, w)
    m = matrix.to(torch.float64)
    residual = torch.linalg.vector_norm(m - toeplitz_projection(m, h, w, fit_border), dim=1)
    rows = torch.linalg.vector_norm(m, dim=1)
    ratio = torch.where(rows > 0, residual / torch.where(rows > 0, rows, torch.ones_like(rows)), torch.zeros_like(rows))
    return ratio.reshape(h, w)
