"""The best inverse a (transposed, strided) convolution can compute, in closed form.

For features ``f`` of images ``x`` with second moments ``C = E[x fᵀ]`` (``n×m``) and
``R = E[f fᵀ]`` (``m×m``), the linear inverse minimising ``E‖x − M f‖²`` over *all* matrices is
``M* = C R⁻¹`` (:func:`~deeprestore.linear_inverse.optimal_inverse.linear_mmse_inverse`; for
``f = W x + ε`` it is the thesis's eq. 2). Restricted to the transposed convolutions of stride ``s``
with a ``(2r+1)×(2r+1)`` kernel (any channel mixing), ``M = Σ_k θ_k B_k`` with ``B_k`` the 0/1 matrix
of the entries with key ``k`` (:func:`~deeprestore.linear_inverse.convolution_structure.convolution_key`),
and the objective ``tr(M R Mᵀ) − 2 tr(M Cᵀ) + const`` is quadratic in ``θ``: its normal equations are

    G θ = h,   G_kl = Σ_a Σ_{b: key(a,b)=k} Σ_{d: key(a,d)=l} R[b, d],   h_k = Σ_{(a,b): key(a,b)=k} C[a, b]

(``a`` runs over image entries, ``b, d`` over features). One image entry has at most one feature
entry per key, and only keys of its own image channel, so ``G`` is block-diagonal over image channels
and each block is summed from ``R``'s sub-blocks row by row. This is the convolutional inverse with the
least expected error under the same moments as the exact one — the "fitted" inverse of the thesis's
§1.1.1, without gradient descent.
"""

from __future__ import annotations

import torch
from torch import Tensor

from deeprestore.linear_inverse.convolution_structure import ConvolutionGrid, convolution_key, convolution_window

__all__ = ["convolutional_inverse"]


def convolutional_inverse(
    cross_moment: Tensor, feature_moment: Tensor, grid: ConvolutionGrid, radius: int, *, rows_per_chunk: int = 64
) -> Tensor:
    """``argmin E‖x − M f‖²`` over transposed strided convolutions ``M`` with a ``(2r+1)²`` kernel (``n×m``, float64).

    Args:
        cross_moment: ``C = E[x fᵀ]``, ``n×m``.
        feature_moment: ``R = E[f fᵀ]``, ``m×m`` symmetric positive semi-definite.
        grid: the image and feature shapes, stride and boundary.
        radius: ``r``; a radius of ``max(H, W)`` allows every displacement.
        rows_per_chunk: image entries summed into ``G`` at once (memory ``chunk·L²`` with ``L`` the
            feature entries one image entry sees).

    Returns:
        ``M`` with ``Mᵀ`` of the structure of :func:`convolution_key` and zero outside the kernel window.

    Raises:
        ValueError: moments whose shapes do not fit ``grid``.
    """
    n, m = grid.image_size, grid.feature_size
    if tuple(cross_moment.shape) != (n, m) or tuple(feature_moment.shape) != (m, m):
        raise ValueError(
            f"expected C of shape {n}×{m} and R of shape {m}×{m} for {grid}, got {tuple(cross_moment.shape)} and {tuple(feature_moment.shape)}"
        )
    cross, moment = cross_moment.double(), feature_moment.double()
    key = convolution_key(grid)[0].T  # n×m
    window = convolution_window(grid, radius).T
    inverse = torch.zeros(n, m, dtype=torch.float64)
    per_channel = n // grid.image[0]
    for channel in range(grid.image[0]):
        rows = slice(channel * per_channel, (channel + 1) * per_channel)
        inverse[rows] = _fit_rows(cross[rows], moment, key[rows], window[rows], rows_per_chunk)
    return inverse


def _fit_rows(cross: Tensor, moment: Tensor, key: Tensor, window: Tensor, rows_per_chunk: int) -> Tensor:
    """The normal equations of one image channel's rows (``key`` and ``window``: ``rows×m``)."""
    used, local = torch.unique(key[window], return_inverse=True)
    count = used.numel()
    labels = torch.full_like(key, count)  # ``count``: a dummy key for entries outside the window
    labels[window] = local
    width = int(window.sum(1).max())
    columns = torch.argsort((~window).to(torch.int8), dim=1, stable=True)[:, :width]  # the window's entries first
    inside = window.gather(1, columns)
    row_labels = labels.gather(1, columns)
    normal = torch.zeros((count + 1) * (count + 1), dtype=torch.float64)
    for start in range(0, key.shape[0], rows_per_chunk):
        b = columns[start : start + rows_per_chunk]
        block = moment[b[:, :, None], b[:, None, :]]
        pair = row_labels[start : start + rows_per_chunk]
        normal.index_add_(0, (pair[:, :, None] * (count + 1) + pair[:, None, :]).flatten(), block.flatten())
    normal = normal.view(count + 1, count + 1)[:count, :count]
    target = torch.zeros(count + 1, dtype=torch.float64).index_add_(0, row_labels[inside], cross.gather(1, columns)[inside])[:count]
    ridge = 1e-12 * float(normal.diagonal().mean().clamp_min(torch.finfo(torch.float64).tiny))
    theta = torch.linalg.solve(normal + ridge * torch.eye(count, dtype=torch.float64), target)
    fitted = torch.zeros_like(cross)
    fitted[window] = theta[local]
    return fitted
