"""Generators split into stages, so that any intermediate layer can be the optimisation variable.

A generator ``G = s_L ∘ … ∘ s_1`` maps a latent ``z`` (layer 0) through layers ``h_1 … h_L = x``.
Each stage is an affine map followed by an elementwise activation,

    h_{k+1} = σ_k(A_k h_k + b_k),

the form that Lei et al. (2019, "Inverting deep generative models, one layer at a time", eq. 1)
invert one layer at a time, and the form in which Daras et al. (2021, ILO, Algorithm 1) pick an
intermediate layer ``h_k`` to optimise. ``A_k`` may be a fully connected layer or any linear
image operation (nearest/bilinear upsampling followed by a convolution, a transposed convolution).

Layer indices: ``0`` is the latent, ``k`` the output of stage ``k``, ``num_stages`` the image.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ACTIVATIONS", "GeneratorStage", "StagedGenerator"]

ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "identity")


class GeneratorStage(nn.Module):
    """``h ↦ σ(A h + b)``: an affine module ``linear`` (no normalisation layers: it must be affine
    in its input) and an elementwise ``activation`` from :data:`ACTIVATIONS`.

    Args:
        linear: the affine part, e.g. ``nn.Linear`` or ``nn.Sequential(nn.Upsample, nn.Conv2d)``.
        activation: name of σ.
        negative_slope: LeakyReLU's slope for negative inputs.
    """

    def __init__(self, linear: nn.Module, activation: str = "relu", negative_slope: float = 0.2) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        self.linear = linear
        self.activation = activation
        self.negative_slope = negative_slope

    def activate(self, pre: Tensor) -> Tensor:
        """σ applied to the pre-activation ``A h + b``."""
        if self.activation == "relu":
            return F.relu(pre)
        if self.activation == "leaky_relu":
            return F.leaky_relu(pre, self.negative_slope)
        if self.activation == "sigmoid":
            return torch.sigmoid(pre)
        if self.activation == "tanh":
            return torch.tanh(pre)
        return pre

    def forward(self, h: Tensor) -> Tensor:
        return self.activate(self.linear(h))


class StagedGenerator(nn.Module):
    """A generator as an ordered list of :class:`GeneratorStage`.

    Args:
        stages: the stages, latent first.
        latent_shape: shape of one latent code (without the batch dimension), e.g. ``(20,)``.
    """

    def __init__(self, stages: Sequence[GeneratorStage], latent_shape: Sequence[int]) -> None:
        super().__init__()
        if not stages:
            raise ValueError("a generator needs at least one stage")
        self.stages = nn.ModuleList(stages)
        self.latent_shape = tuple(int(s) for s in latent_shape)

    @property
    def num_stages(self) -> int:
        return len(self.stages)

    def check_layer(self, layer: int) -> int:
        """``layer`` if it is a valid layer index (0 … num_stages), else a ValueError."""
        if not 0 <= layer <= self.num_stages:
            raise ValueError(f"layer must be in 0 … {self.num_stages} (0 = latent, {self.num_stages} = image), got {layer}")
        return layer

    def advance(self, h: Tensor, start: int, stop: int) -> Tensor:
        """``h_stop`` from ``h = h_start`` (``start ≤ stop``)."""
        if self.check_layer(start) > self.check_layer(stop):
            raise ValueError(f"cannot run the generator backwards from layer {start} to {stop}")
        for stage in self.stages[start:stop]:
            h = stage(h)
        return h

    def forward_to(self, layer: int, z: Tensor) -> Tensor:
        """``h_layer`` from the latent ``z`` (``N × latent_shape``)."""
        return self.advance(z, 0, layer)

    def forward_from(self, layer: int, h: Tensor) -> Tensor:
        """The image from the intermediate layer ``h = h_layer``."""
        return self.advance(h, layer, self.num_stages)

    def forward(self, z: Tensor) -> Tensor:
        return self.forward_from(0, z)

    @torch.no_grad()
    def layer_shapes(self) -> list[tuple[int, ...]]:
        """Shape (without batch) of every layer 0 … num_stages."""
        p = next(self.parameters(), None)
        h = torch.zeros(1, *self.latent_shape, device=None if p is None else p.device, dtype=None if p is None else p.dtype)
        shapes = [tuple(h.shape[1:])]
        for stage in self.stages:
            h = stage(h)
            shapes.append(tuple(h.shape[1:]))
        return shapes

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` latent codes from N(0, I) (on the CPU)."""
        return torch.randn(n, *self.latent_shape, generator=generator)
