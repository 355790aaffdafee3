"""How far a matrix between an image and a strided convolution's features is from a convolution.

A convolution with stride ``s`` from an image ``C×H×W`` to features ``C'×H'×W'`` has a matrix
``W`` (rows: features ``(c', i', j')``; columns: image ``(c, i, j)``, both row-major) whose entry
depends only on ``(c', c, i − s·i', j − s·j')``: shifting the image by ``s`` shifts the features
by one. Its transpose and every *transposed* convolution of stride ``s`` (the decoders of
Dosovitskiy & Brox) have the same structure, so a linear inverse ``M`` (``n×m``) can be computed by a
convolution exactly when ``Mᵀ`` has it. For ``s = 1`` and one channel this is the (doubly block-)
Toeplitz structure of :mod:`deeprestore.stats.stationarity`; the thesis's §1.1.1 asks whether the
optimal inverses have it.

Two boundaries:

* ``circular=False`` (zero padding): the key is the displacement itself; a zero-padded convolution is
  exactly such a matrix (the padding only drops entries), and so is a transposed convolution with a
  kernel as large as the grid.
* ``circular=True`` (the image wraps around; needs ``H = s·H'``, ``W = s·W'``): the displacement is
  taken modulo ``H`` and ``W``, so the matrices are the (strided, multi-channel) circulants.

The matrices with the structure form a subspace; the orthogonal projection onto it (Frobenius) replaces
each entry by the mean of the entries with the same key (:func:`convolution_projection`), the nearest
such matrix; with a kernel radius ``r``, entries outside the ``(2r+1)²`` window are set to zero too.
Without a radius, an entry whose displacement no other entry has (a zero-padded grid's far corners)
always matches, so that measure only sees disagreement between entries that a convolution would tie. :func:`convolution_distance` reports ``‖M − P(M)‖_F / ‖M‖_F``, for the whole matrix or,
with ``border = b``, for the rows and columns of the interior (feature positions at least ``b`` from
every edge, image positions in the matching window), projected within that sub-grid, so border
effects can be told from the interior's own structure.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from deeprestore.stats.stationarity import key_means

__all__ = ["ConvolutionGrid", "convolution_distance", "convolution_key", "convolution_projection", "convolution_window", "interior_grid"]


@dataclass(frozen=True)
class ConvolutionGrid:
    """The two sides of a strided convolution.

    Attributes:
        image: ``(C, H, W)`` of the input.
        features: ``(C', H', W')`` of the output.
        stride: ``s``: one feature step is ``s`` image steps.
        circular: the image wraps around (needs ``H = s·H'`` and ``W = s·W'``).
    """

    image: tuple[int, int, int]
    features: tuple[int, int, int]
    stride: int = 1
    circular: bool = False

    def __post_init__(self) -> None:
        if len(self.image) != 3 or len(self.features) != 3 or min(*self.image, *self.features) < 1:
            raise ValueError(f"image and features must be (C, H, W) of positive sizes, got {self.image} and {self.features}")
        if self.stride < 1:
            raise ValueError(f"the stride must be positive, got {self.stride}")
        if self.circular and (self.image[1] != self.stride * self.features[1] or self.image[2] != self.stride * self.features[2]):
            raise ValueError(
                f"a circular grid needs image H×W = stride × features H'×W', got {self.image[1:]} with stride {self.stride} "
                f"and features {self.features[1:]}"
            )

    @property
    def image_size(self) -> int:
        """``n = C·H·W``."""
        return self.image[0] * self.image[1] * self.image[2]

    @property
    def feature_size(self) -> int:
        """``m = C'·H'·W'``."""
        return self.features[0] * self.features[1] * self.features[2]


def _offsets(size: int, feature_size: int, stride: int, circular: bool, device: torch.device | None) -> tuple[Tensor, int]:
    """``feature_size×size`` displacement index ``i − s·i'`` (shifted to start at 0) and its range."""
    image = torch.arange(size, device=device)
    feature = torch.arange(feature_size, device=device)
    displacement = image[None, :] - stride * feature[:, None]
    if circular:
        return displacement % size, size
    return displacement + stride * (feature_size - 1), size + stride * (feature_size - 1)


def convolution_key(grid: ConvolutionGrid, device: torch.device | None = None) -> tuple[Tensor, int]:
    """The key of every entry of an ``m×n`` matrix (features × image): ``(c', c, i − s·i', j − s·j')`` as one
    index, and the number of keys.

    Returns:
        ``(key, bins)``: ``key`` is long ``m×n`` in ``[0, bins)``; two entries of a (transposed) strided
        convolution's matrix with the same key are equal.
    """
    (c, h, w), (c2, h2, w2) = grid.image, grid.features
    di, rows = _offsets(h, h2, grid.stride, grid.circular, device)  # h2×h
    dj, cols = _offsets(w, w2, grid.stride, grid.circular, device)  # w2×w
    spatial = (di[:, None, :, None] * cols + dj[None, :, None, :]).reshape(h2 * w2, h * w)  # (i', j') × (i, j)
    channels = torch.arange(c2, device=device)[:, None] * c + torch.arange(c, device=device)[None, :]  # c'×c
    key = channels[:, None, :, None] * (rows * cols) + spatial[None, :, None, :]
    return key.reshape(grid.feature_size, grid.image_size), c * c2 * rows * cols


def convolution_window(grid: ConvolutionGrid, radius: int, device: torch.device | None = None) -> Tensor:
    """Bool ``m×n``: the entries a transposed convolution with a ``(2r+1)×(2r+1)`` kernel centred on
    ``s·i'`` can be non-zero at, ``|i − s·i'| ≤ r`` and ``|j − s·j'| ≤ r`` (modulo ``H``, ``W`` when circular)."""
    if radius < 0:
        raise ValueError(f"the kernel radius must be non-negative, got {radius}")
    (c, h, w), (c2, h2, w2) = grid.image, grid.features

    def near(size: int, feature_size: int) -> Tensor:
        d = torch.arange(size, device=device)[None, :] - grid.stride * torch.arange(feature_size, device=device)[:, None]
        if grid.circular:
            d = torch.minimum(d % size, (-d) % size)
        return d.abs() <= radius

    spatial = (near(h, h2)[:, None, :, None] & near(w, w2)[None, :, None, :]).reshape(h2 * w2, h * w)
    return spatial[None, :, None, :].expand(c2, -1, c, -1).reshape(grid.feature_size, grid.image_size)


def _check(matrix: Tensor, grid: ConvolutionGrid) -> Tensor:
    if matrix.ndim != 2 or tuple(matrix.shape) != (grid.feature_size, grid.image_size):
        raise ValueError(
            f"expected a {grid.feature_size}×{grid.image_size} matrix (features × image) for {grid}, got shape {tuple(matrix.shape)}; "
            "pass an inverse transposed"
        )
    return matrix.to(torch.float64)


def convolution_projection(matrix: Tensor, grid: ConvolutionGrid, radius: int | None = None) -> Tensor:
    """The nearest (Frobenius) matrix with a strided convolution's structure: each entry replaced by the
    mean of the entries with its key; with ``radius``, zero outside the window of a ``(2r+1)²`` kernel
    (:func:`convolution_window`). ``matrix`` is ``m×n`` (features × image; pass an inverse transposed)."""
    m = _check(matrix, grid)
    key, bins = convolution_key(grid, m.device)
    projected = key_means(m, key, bins)[key]
    return projected if radius is None else torch.where(convolution_window(grid, radius, m.device), projected, 0.0)


def interior_grid(grid: ConvolutionGrid, border: int) -> tuple[ConvolutionGrid, Tensor, Tensor]:
    """The sub-grid of feature positions at least ``border`` from every edge and the image window they
    cover (rows ``s·b … s·(H' − b) − 1``, columns likewise), with the row and column indices of an
    ``m×n`` matrix that select it. The sub-grid is zero-padded (a circular grid's interior does not wrap).

    Raises:
        ValueError: ``border < 0`` or no interior left.
    """
    (c, h, w), (c2, h2, w2), s = grid.image, grid.features, grid.stride
    if border < 0:
        raise ValueError(f"border must be non-negative, got {border}")
    if h2 - 2 * border < 1 or w2 - 2 * border < 1 or s * (h2 - border) > h or s * (w2 - border) > w:
        raise ValueError(f"border {border} leaves no interior in features {h2}×{w2} over image {h}×{w}")

    def select(channels: int, height: int, width: int, rows: range, cols: range) -> Tensor:
        ch = torch.arange(channels)[:, None, None] * (height * width)
        return (ch + torch.tensor(rows)[None, :, None] * width + torch.tensor(cols)[None, None, :]).flatten()

    feature_rows = select(c2, h2, w2, range(border, h2 - border), range(border, w2 - border))
    image_cols = select(c, h, w, range(s * border, s * (h2 - border)), range(s * border, s * (w2 - border)))
    inner = ConvolutionGrid((c, s * (h2 - 2 * border), s * (w2 - 2 * border)), (c2, h2 - 2 * border, w2 - 2 * border), s)
    return inner, feature_rows, image_cols


def convolution_distance(matrix: Tensor, grid: ConvolutionGrid, border: int = 0, radius: int | None = None) -> float:
    """``‖M − P(M)‖_F / ‖M‖_F`` in ``[0, 1]``: 0 when a (transposed) strided convolution computes ``M``.

    Args:
        matrix: ``m×n`` (features × image); an inverse ``n×m`` transposed.
        border: ``0``: the whole matrix; ``b > 0``: its interior rows and columns only
            (:func:`interior_grid`), projected within that sub-grid.
        radius: ``None``: any kernel (an entry whose key no other entry shares is always matched — a
            zero-padded grid's far corners); ``r``: kernels of ``(2r+1)×(2r+1)`` at most.

    Returns:
        The relative distance; 0 for the zero matrix.
    """
    m = _check(matrix, grid)
    if border:
        grid, rows, cols = interior_grid(grid, border)
        m = m[rows][:, cols]
    norm = torch.linalg.matrix_norm(m)
    if norm == 0:
        return 0.0
    return float(torch.linalg.matrix_norm(m - convolution_projection(m, grid, radius)) / norm)
