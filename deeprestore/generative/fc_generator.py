"""Lei et al.'s random fully connected generator (2019, "Inverting deep generative models, one
layer at a time", Section 5 and the model of eq. 1).

``G(z) = σ(W_L … σ(W_2 σ(W_1 z)))`` with σ = ReLU (or LeakyReLU) after *every* layer, the output
layer included, and ``W_i ∈ R^{n_i × n_{i-1}}`` with i.i.d. ``N(0, 1/n_i)`` entries, ``n_i`` the
*output* width of layer ``i`` (the number of rows), so that ``E‖W_i h‖² = ‖h‖²``. Expanding
widths (``n_i ≥ c·n_{i-1}``, ``c > 2``) are what their Theorem 3/4 need for exact layer-wise
recovery by linear programming.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from deeprestore.generative.staged_generator import GeneratorStage, StagedGenerator

__all__ = ["fully_connected_generator"]


def fully_connected_generator(
    widths: Sequence[int] = (20, 100, 500),
    activation: str = "relu",
    negative_slope: float = 0.2,
    seed: int = 0,
    bias: bool = False,
    dtype: torch.dtype = torch.float32,
) -> StagedGenerator:
    """A random fully connected generator ``R^{widths[0]} → R^{widths[-1]}``.

    Layer ``i`` (1-based) is ``nn.Linear(widths[i-1], widths[i])`` with weight entries i.i.d.
    ``N(0, 1/widths[i])`` — variance one over the layer's *output* width ``n_out = widths[i]``
    (Lei et al. 2019, Section 5: "entries of W_i i.i.d. N(0, 1/n_i)") — followed by ``activation``
    (also on the output layer). With ``bias=True`` the biases are i.i.d. ``N(0, 1/widths[i])`` too
    (Lei et al.'s model has no bias; ours is an extension).

    Args:
        widths: ``(k, n_1, …, n_L)``: latent dimension, then every layer's width.
        activation: ``"relu"`` or ``"leaky_relu"`` (any name of
            :data:`~deeprestore.generative.staged_generator.ACTIVATIONS` is accepted).
        negative_slope: LeakyReLU's slope.
        seed: seeds a private :class:`torch.Generator` (the global RNG is untouched).
        bias: add random biases.
        dtype: parameter dtype (float64 makes ``x = G(z)`` exact enough for the 1e-6 checks).

    Returns:
        A :class:`StagedGenerator` with ``len(widths) - 1`` stages and latent shape ``(widths[0],)``;
        ``G(z)``: ``N × widths[0] → N × widths[-1]``.
    """
    widths = [int(w) for w in widths]
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(f"widths needs a latent and at least one layer, all positive, got {widths}")
    g = torch.Generator().manual_seed(seed)
    stages = []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        linear = nn.Linear(n_in, n_out, bias=bias, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.randn(n_out, n_in, generator=g, dtype=torch.float64) / n_out**0.5)
            if bias:
                linear.bias.copy_(torch.randn(n_out, generator=g, dtype=torch.float64) / n_out**0.5)
        stages.append(GeneratorStage(linear, activation, negative_slope))
    return StagedGenerator(stages, (widths[0],)).requires_grad_(False)
