"""The dense matrix ``A`` and offset ``b`` of a stage's affine part ``h ↦ A h + b``.

Lei et al. (2019, eq. 1 and Section 3) write every layer as ``h_{k+1} = σ(W_k h_k)`` with a dense
``W_k``; a convolution, an upsampling followed by a convolution or a transposed convolution are
such maps too, on flattened tensors. :func:`stage_affine` materialises them so that the layer-wise
linear programs (:mod:`deeprestore.generative.lp_inversion`) work for any stage type.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from deeprestore.generative.staged_generator import GeneratorStage

__all__ = ["stage_affine"]


@torch.no_grad()
def stage_affine(stage: GeneratorStage | nn.Module, input_shape: Sequence[int], chunk: int = 512) -> tuple[Tensor, Tensor]:
    """``(A, b)`` with ``linear(h).flatten() == A @ h.flatten() + b`` for the stage's affine part.

    For ``nn.Linear`` the weight and bias are read directly. Any other module is probed: ``b`` is
    its response to ``0`` and column ``j`` of ``A`` its response to the basis vector ``e_j`` minus
    ``b``, evaluated in float64 on a copy of the module in batches of ``chunk`` basis vectors. The
    module must be affine in its input (no normalisation with batch statistics; it is put in eval
    mode).

    Args:
        stage: a :class:`GeneratorStage` (its ``linear`` is used) or the affine module itself.
        input_shape: shape of one input without the batch dimension, e.g. ``(100,)`` or ``(C, H, W)``.
        chunk: basis vectors per forward pass.

    Returns:
        ``A``: ``n_out × n_in`` float64 on the CPU, ``n_in = prod(input_shape)``;
        ``b``: ``n_out`` float64.
    """
    linear = stage.linear if isinstance(stage, GeneratorStage) else stage
    input_shape = tuple(int(s) for s in input_shape)
    n_in = 1
    for s in input_shape:
        n_in *= s
    if isinstance(linear, nn.Linear):
        if linear.in_features != n_in:
            raise ValueError(f"nn.Linear takes {linear.in_features} inputs, input_shape {input_shape} has {n_in}")
        A = linear.weight.detach().to("cpu", torch.float64).clone()
        b = torch.zeros(A.shape[0], dtype=torch.float64) if linear.bias is None else linear.bias.detach().to("cpu", torch.float64).clone()
        return A, b
    module = copy.deepcopy(linear).to("cpu", torch.float64).eval()
    b = module(torch.zeros(1, *input_shape, dtype=torch.float64)).reshape(-1)
    columns = []
    for start in range(0, n_in, chunk):
        stop = min(start + chunk, n_in)
        basis = torch.zeros(stop - start, n_in, dtype=torch.float64)
        basis[torch.arange(stop - start), torch.arange(start, stop)] = 1.0
        columns.append(module(basis.reshape(-1, *input_shape)).reshape(stop - start, -1) - b)
    return torch.cat(columns).T.contiguous(), b
