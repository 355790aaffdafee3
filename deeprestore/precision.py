"""The precision results are computed in, whatever the input's dtype or an autocast around it.

Half and bfloat16 tensors (a network's output under ``torch.autocast``, Lightning's ``bf16-mixed``)
keep about three significant digits: enough for a network's activations, not for an α = 6 power
of 0–255 values, a sum over every patch of an image, or a score. The priors and the metrics
compute in :func:`compute_dtype` of their input, inside :func:`full_precision`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor

__all__ = ["compute_dtype", "full_precision"]


def compute_dtype(t: Tensor) -> torch.dtype:
    """float64 stays float64; anything else (float16, bfloat16, float32) computes in float32."""
    return torch.float64 if t.dtype == torch.float64 else torch.float32


@contextlib.contextmanager
def full_precision(device: torch.device) -> Iterator[None]:
    """Autocast off on ``device`` for the enclosed block (inside an autocast region, ``conv2d``
    and ``matmul`` would run in bf16/fp16 even on float32 tensors)."""
    if torch.amp.is_autocast_available(device.type):
        with torch.autocast(device_type=device.type, enabled=False):
            yield
    else:  # "meta" or a backend without autocast
        yield
