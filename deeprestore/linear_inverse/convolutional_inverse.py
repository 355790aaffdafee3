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
entry per key, and only keys of its own image channel, so ``G`` is block-diagonal over image channels;
the blocks are equal (every channel has the same positions), so one is summed from ``R``'s sub-blocks
row by row and solved for all channels at once. This is the convolutional inverse with the
least expected error under the same moments as the exact one — the "fitted" inverse of the thesis's
§1.1.1, without gradient descent.
"""

from __future__ import annotations

import torch
from torch import Tensor

from deeprestore.linear_inverse.convolution_structure import ConvolutionGrid, convolution_key, convolution_window

__all__ = ["convolutional_inverse"]


def convolutional_inverse(
    cross_moment: Tensor,
    feature_moment: Tensor,
    grid: ConvolutionGrid,
    radius: int,
    *,
    fit_positions: Tensor | None = None,
    chunk_entries: int = 1 << 24,
) -> Tensor:
    """``argmin E‖x − M f‖²`` over transposed strided convolutions ``M`` with a ``(2r+1)²`` kernel (``n×m``, float64).

    Args:
        cross_moment: ``C = E[x fᵀ]``, ``n×m``.
        feature_moment: ``R = E[f fᵀ]``, ``m×m`` symmetric positive semi-definite.
        grid: the image and feature shapes, stride and boundary.
        radius: ``r``; a radius of ``max(H, W)`` allows every displacement.
        fit_positions: flat image positions ``i·W + j`` whose error is minimised (default: all); e.g. the
            interior, to fit the kernel there without the border's pull. The kernel then applies everywhere.
        chunk_entries: entries of ``R`` gathered at once while summing ``G`` (memory: 8 bytes each).

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
    channels, per_channel = grid.image[0], n // grid.image[0]
    # Every image channel has the same positions, so the same window, keys (up to a constant) and G:
    # one block is summed from the first channel's rows and solved for every channel's target.
    key = convolution_key(grid)[0].T[:per_channel].contiguous()
    window = convolution_window(grid, radius).T[:per_channel]
    fitted = torch.arange(per_channel) if fit_positions is None else fit_positions.long()
    used = torch.unique(key[fitted][window[fitted]])  # the keys the fitted rows have, sorted
    count = used.numel()
    position = torch.searchsorted(used, key).clamp_max(count - 1)
    free = window & (used[position] == key)  # entries whose weight is fitted (the rest stay zero)
    labels = torch.where(free, position, count)[fitted]  # ``count``: a dummy key for the rest
    width = int(free[fitted].sum(1).max())
    columns = torch.argsort((~free[fitted]).to(torch.int8), dim=1, stable=True)[:, :width]  # the free entries first
    inside = free[fitted].gather(1, columns)
    row_labels = labels.gather(1, columns)
    normal = _normal_matrix(feature_moment.double(), columns, row_labels, count, max(1, chunk_entries // (width * width)))
    cross = cross_moment.double().reshape(channels, per_channel, m)[:, fitted]
    targets = torch.zeros(count + 1, channels, dtype=torch.float64)
    targets.index_add_(0, row_labels[inside], cross.gather(2, columns.expand(channels, -1, -1)).permute(1, 2, 0)[inside])
    ridge = 1e-12 * float(normal.diagonal().mean().clamp_min(torch.finfo(torch.float64).tiny))
    theta = torch.linalg.solve(normal + ridge * torch.eye(count, dtype=torch.float64), targets[:count])  # count×channels
    inverse = torch.zeros(channels, per_channel, m, dtype=torch.float64)
    inverse[:, free] = theta[position[free]].T
    return inverse.reshape(n, m)


def _normal_matrix(moment: Tensor, columns: Tensor, row_labels: Tensor, count: int, rows_per_chunk: int) -> Tensor:
    """``G`` (``count×count``) of the normal equations: ``R``'s sub-block of each row's window entries,
    added at those entries' keys (the dummy key ``count`` collects what lies outside the window)."""
    normal = torch.zeros((count + 1) * (count + 1), dtype=torch.float64)
    for start in range(0, columns.shape[0], rows_per_chunk):
        b = columns[start : start + rows_per_chunk]
        pair = row_labels[start : start + rows_per_chunk]
        normal.index_add_(0, (pair[:, :, None] * (count + 1) + pair[:, None, :]).flatten(), moment[b[:, :, None], b[:, None, :]].flatten())
    return normal.view(count + 1, count + 1)[:count, :count]
