"""Python numbers as a tensor on the device and dtype a computation asks for, copied there once.

Copying Python values to a GPU (``x.new_tensor([…])``, ``torch.tensor(…, device=…)``) makes the host
wait for the device. An optimisation loop that needs the same constants at every step — a mean
colour, a normalisation — keeps a :class:`ConstantTensor` and asks it for the tensor instead.

Example::

    mean = ConstantTensor((123.68, 116.78, 103.94), (1, 3, 1, 1))
    x_mv = 255 * images - mean.like(images)      # copied to images' device and dtype once
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["ConstantTensor"]


class ConstantTensor:
    """Fixed values of a given shape, as a tensor on any device and dtype (one copy each, kept).

    Args:
        values: the numbers, in row-major order.
        shape: their shape (``-1`` once allowed, as in :meth:`torch.Tensor.view`).
    """

    def __init__(self, values: Sequence[float], shape: Sequence[int]) -> None:
        self.values = tuple(float(v) for v in values)
        self.shape = tuple(shape)
        self._copies: dict[tuple[torch.device, torch.dtype], Tensor] = {}

    def like(self, t: Tensor) -> Tensor:
        """The values on ``t``'s device, in its dtype."""
        key = (t.device, t.dtype)
        found = self._copies.get(key)
        if found is None:
            found = self._copies[key] = torch.tensor(self.values, dtype=t.dtype, device=t.device).view(self.shape)
        return found

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        return f"ConstantTensor({self.values}, shape={self.shape})"
