"""The explicit matrix of a linear layer: ``W`` with ``vec(f(x)) = W vec(x)``.

Built column by column from unit impulses (the images ``e_j``), in batches, so it works for any
linear map a network has — a convolution with its stride, padding and groups, a depthwise or
pointwise layer, a batch norm folded in — without rewriting the layer. Vectorisation is PyTorch's
row-major order of ``C×H×W`` (channel, then row, then column). An affine layer's bias is removed
(``f(x) - f(0)``), so ``W`` is its linear part.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["layer_matrix"]


@torch.no_grad()
def layer_matrix(layer: Callable[[Tensor], Tensor], input_shape: tuple[int, int, int], *, batch: int = 256) -> Tensor:
    """``W`` (``m×n``, float64) of the linear part of ``layer`` on inputs of ``input_shape`` ``C×H×W``.

    Args:
        layer: a linear or affine map of ``N×C×H×W`` tensors (an ``nn.Conv2d``, a network stage …).
        input_shape: ``(C, H, W)``; ``n = C·H·W`` columns are built, so keep it small (a few thousand).
        batch: impulses per forward pass.

    Returns:
        ``W`` with ``W @ x.flatten() == (layer(x) - layer(0)).flatten()`` for every ``x`` of that shape.

    Raises:
        ValueError: an input shape that is not ``(C, H, W)`` of positive sizes.
    """
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ValueError(f"input_shape must be (C, H, W) of positive sizes, got {tuple(input_shape)}")
    n = input_shape[0] * input_shape[1] * input_shape[2]
    probe = next((p for p in getattr(layer, "parameters", lambda: iter(()))()), None)
    dtype = probe.dtype if probe is not None else torch.float64
    device = probe.device if probe is not None else torch.device("cpu")
    offset = layer(torch.zeros(1, *input_shape, dtype=dtype, device=device)).reshape(-1)
    columns = []
    for start in range(0, n, batch):
        stop = min(start + batch, n)
        impulses = torch.zeros(stop - start, n, dtype=dtype, device=device)
        impulses[torch.arange(stop - start), torch.arange(start, stop)] = 1.0
        out = layer(impulses.reshape(-1, *input_shape)).reshape(stop - start, -1) - offset
        columns.append(out.double().cpu())
    return torch.cat(columns).T.contiguous()
