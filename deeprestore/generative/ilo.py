"""Intermediate Layer Optimisation (Daras, Dean, Jalal & Dimakis 2021) and its latent-only
special case CSGM (Bora, Jalal, Price & Dimakis 2017).

Given measurements ``y = A(x) + noise`` of an image ``x`` (a :class:`ForwardOperator` ``A``) and a
generator ``G = G_{k→L} ∘ G_{0→k}`` split into stages:

* **CSGM** minimises ``‖A(G(z)) − y‖² (+ λ‖z‖²)`` over the latent ``z`` by Adam.
* **ILO** (Algorithm 1 of Daras et al.) first does the same for ``steps[0]`` steps, then moves the
  optimisation variable to deeper layers one after another: at layer ``k`` it starts from
  ``c_k = G_{p→k}(h_p)``, the previous layer's solution pushed forward, and minimises
  ``‖A(G_{k→L}(h)) − y‖²`` over ``h`` by projected Adam, each step followed by the projection of
  ``h − c_k`` onto the l1 ball of radius ``r_k = radius_k · ‖c_k‖₁`` (Duchi et al. 2008). The
  deeper layers have more freedom — the range of ``G_{k→L}`` contains the range of ``G`` — and
  the ball keeps the solution near the range of the earlier layers.

The radius is relative to the layer's own l1 norm (per image) so that one number means the same
at every layer; radius 0 keeps the layer at ``c_k`` (ILO with every radius 0 is CSGM with
``steps[0]`` steps), ``inf`` removes the constraint. Every layer runs its own learning-rate ramp
(:func:`ramped_lr`). Restarts run as one batch; each image keeps its best restart, and each
layer keeps its best iterate by measurement loss.

Precision: the variables, the objective and the result are float32 (the generator's parameter
dtype) even when the generator runs under a bf16 autocast (Lightning's ``bf16-mixed``): each
layer's start is cast up, and the operators compute in float32
(:mod:`deeprestore.generative.operators.base`). The loop never waits for the device.

Optional perceptual term: ``perceptual(A(x̂), y) → (N,)`` added with ``perceptual_weight`` (ILO
uses LPIPS; :func:`feature_loss` builds one from a zoo network) — only for operators whose
measurements are images.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor
from tqdm import tqdm

from deeprestore.generative.l1_ball import project_l1_ball_around
from deeprestore.generative.lr_schedule import ramped_lr
from deeprestore.generative.operators import ForwardOperator
from deeprestore.generative.staged_generator import StagedGenerator
from deeprestore.plain_adam import PlainAdam

__all__ = ["InversionResult", "csgm", "feature_loss", "ilo"]

Perceptual = Callable[[Tensor, Tensor], Tensor]


@dataclass
class InversionResult:
    """What :func:`ilo` / :func:`csgm` found.

    Attributes:
        images: ``N×C×H×W`` reconstructions ``G_{k→L}(h_k)``.
        layer: the last optimised layer ``k``.
        variable: its value ``h_k`` (``N × layer shape``).
        measurement_loss: ``(N,)`` mean squared measurement error ``‖A(x̂) − y‖² / m``.
        history: mean objective per step, all layers in order.
        layer_steps: ``(layer, steps)`` in the order they ran.
    """

    images: Tensor
    layer: int
    variable: Tensor
    measurement_loss: Tensor
    history: list[float] = field(default_factory=list)
    layer_steps: list[tuple[int, int]] = field(default_factory=list)


def feature_loss(net: torch.nn.Module, layer: str) -> Perceptual:
    """A perceptual term from a :class:`~deeprestore.nets.FeatureNetwork`: the relative squared
    error of its features at ``layer`` between ``A(x̂)`` and ``y`` (both ``N×3×H×W``)."""

    def loss(measured: Tensor, y: Tensor) -> Tensor:
        a = net.features(measured, [layer])[layer].flatten(1).float()
        with torch.no_grad():
            b = net.features(y, [layer])[layer].flatten(1).float()
        return (a - b).pow(2).sum(1) / b.pow(2).sum(1).clamp_min(1e-12)

    return loss


def _objective(
    generator: StagedGenerator,
    operator: ForwardOperator,
    y: Tensor,
    layer: int,
    latent_weight: float,
    perceptual: Perceptual | None,
    perceptual_weight: float,
) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
    """``h ↦ (objective (N,), measurement MSE (N,))`` at ``layer``."""

    def objective(h: Tensor) -> tuple[Tensor, Tensor]:
        measured = operator(generator.forward_from(layer, h))  # float32: the operator casts a bf16 image up
        mse = (measured - y).pow(2).flatten(1).mean(1)
        total = mse
        if layer == 0 and latent_weight > 0:
            total = total + latent_weight * h.pow(2).flatten(1).sum(1)
        if perceptual is not None and perceptual_weight > 0:
            total = total + perceptual_weight * perceptual(measured, y)
        return total, mse

    return objective


def _optimise(
    objective: Callable[[Tensor], tuple[Tensor, Tensor]],
    start: Tensor,
    steps: int,
    lr: float,
    center: Tensor | None,
    radius: Tensor | None,
    history: list[Tensor],
    progress: tqdm | None,
) -> tuple[Tensor, Tensor]:
    """Projected Adam from ``start`` for ``steps`` steps; ``(best h, its objective)`` per sample.
    Nothing in the loop waits for the device: the history stays a list of 0-d tensors."""
    h = start.detach().clone().requires_grad_(True)
    opt = PlainAdam(h)
    best, best_value = h.detach().clone(), torch.full((len(h),), math.inf, device=h.device, dtype=h.dtype)
    per_sample = (-1,) + (1,) * (h.dim() - 1)
    for step in range(steps + 1):
        value, _ = objective(h)
        better = value.detach() < best_value
        best = torch.where(better.view(per_sample), h.detach(), best)
        best_value = torch.where(better, value.detach(), best_value)
        history.append(value.detach().mean())
        if step == steps:
            break
        h.grad = None
        value.sum().backward()
        opt.step(ramped_lr(step, steps, lr))
        if center is not None and radius is not None:
            with torch.no_grad():
                h.copy_(project_l1_ball_around(h, center, radius, check=False))  # radii ≥ 0 by construction
        if progress is not None:
            progress.update(1)
    return best, best_value


def _random_starts(latent_shape: Sequence[int], n: int, restarts: int, seed: int | Sequence[int]) -> Tensor:
    """``(restarts·n)×latent`` standard normal starts, restart-major: from one stream seeded by
    ``seed``, or, given one seed per image, start ``r`` of image ``j`` (row ``r·n + j``) as the
    ``r``-th draw of image ``j``'s own stream."""
    if isinstance(seed, int):
        return torch.randn(restarts * n, *latent_shape, generator=torch.Generator().manual_seed(seed))
    seeds = list(seed)
    if len(seeds) != n:
        raise ValueError(f"need one seed per image ({n}), got {len(seeds)}")
    per_image = torch.stack([torch.randn(restarts, *latent_shape, generator=torch.Generator().manual_seed(s)) for s in seeds], dim=1)
    return per_image.reshape(restarts * n, *latent_shape)


def ilo(
    generator: StagedGenerator,
    operator: ForwardOperator,
    y: Tensor,
    *,
    layers: Sequence[int] = (0, 1, 2, 3),
    steps: Sequence[int] = (50, 50, 25, 25),
    radii: Sequence[float] = (0.1, 0.1, 0.1),
    lr: float = 0.1,
    restarts: int = 1,
    latent_weight: float = 0.0,
    perceptual: Perceptual | None = None,
    perceptual_weight: float = 0.0,
    seed: int | Sequence[int] = 0,
    progress: bool = False,
) -> InversionResult:
    """Intermediate Layer Optimisation (Daras et al. 2021, Algorithm 1 applied layer after layer).

    Args:
        generator: the generator (its parameters are not changed).
        operator: the forward operator ``A``.
        y: ``N × measurement shape`` measurements ``A(x) + noise`` (another shape is a ``ValueError``).
        layers: increasing layers to optimise, starting at 0 (the latent).
        steps: Adam steps at each layer.
        radii: relative l1 radius of each layer after the first (``r_k = radius · ‖c_k‖₁``).
        lr: peak learning rate (the same at every layer).
        restarts: random latent starts per image, run as one batch; the best is kept.
        latent_weight: λ of Bora et al.'s ``λ‖z‖²`` at layer 0.
        perceptual, perceptual_weight: optional perceptual term (see the module docstring).
        seed: seed of the random starts: one stream for the batch, or one seed per image (each
            image's starts then do not depend on its batch).
        progress: show a progress bar.
    """
    layers, steps, radii = list(layers), list(steps), list(radii)
    if not layers or layers[0] != 0 or any(b <= a for a, b in zip(layers, layers[1:])):
        raise ValueError(f"layers must start at 0 and increase, got {layers}")
    generator.check_layer(layers[-1])
    if layers[-1] >= generator.num_stages:
        raise ValueError(f"the last optimised layer must be before the image (layer {generator.num_stages}), got {layers[-1]}")
    if len(steps) != len(layers) or len(radii) != len(layers) - 1:
        raise ValueError(
            f"need one step count per layer and one radius per layer after the first; got layers {layers}, steps {steps}, radii {radii}"
        )
    if any(s < 0 for s in steps) or any(r < 0 for r in radii) or restarts < 1:
        raise ValueError(f"steps and radii must be non-negative and restarts positive, got {steps}, {radii}, {restarts}")
    operator.check_measurements(y)  # a y of another shape would broadcast into a wrong objective
    n = len(y)
    p = next(generator.parameters())
    y_all = y.to(p).repeat(restarts, *([1] * (y.dim() - 1)))
    z = _random_starts(generator.latent_shape, n, restarts, seed).to(p)
    history: list[Tensor] = []
    bar = tqdm(total=sum(steps), desc="ILO" if len(layers) > 1 else "CSGM", unit="step", disable=not progress)
    h, value = _optimise(
        _objective(generator, operator, y_all, 0, latent_weight, perceptual, perceptual_weight), z, steps[0], lr, None, None, history, bar
    )
    pick = value.view(restarts, n).argmin(0) * n + torch.arange(n, device=value.device)
    h = h[pick]
    done = [(0, steps[0])]
    prev = 0
    for layer, n_steps, radius in zip(layers[1:], steps[1:], radii):
        with torch.no_grad():
            center = generator.advance(h, prev, layer).to(p.dtype)  # float32 even from a bf16 autocast
        r = (radius * center.flatten(1).abs().sum(1)) if math.isfinite(radius) else None
        objective = _objective(generator, operator, y.to(p), layer, 0.0, perceptual, perceptual_weight)
        h, value = _optimise(objective, center, n_steps, lr, center if r is not None else None, r, history, bar)
        done.append((layer, n_steps))
        prev = layer
    bar.close()
    with torch.no_grad():
        images = generator.forward_from(prev, h).to(p.dtype)
        mse = (operator(images) - y.to(p)).pow(2).flatten(1).mean(1)
    return InversionResult(images, prev, h.detach(), mse, torch.stack(history).tolist() if history else [], done)


def csgm(
    generator: StagedGenerator,
    operator: ForwardOperator,
    y: Tensor,
    *,
    steps: int = 150,
    lr: float = 0.1,
    restarts: int = 1,
    latent_weight: float = 0.0,
    perceptual: Perceptual | None = None,
    perceptual_weight: float = 0.0,
    seed: int | Sequence[int] = 0,
    progress: bool = False,
) -> InversionResult:
    """CSGM (Bora et al. 2017): Adam over the latent only — :func:`ilo` with ``layers=(0,)``."""
    return ilo(
        generator,
        operator,
        y,
        layers=(0,),
        steps=(steps,),
        radii=(),
        lr=lr,
        restarts=restarts,
        latent_weight=latent_weight,
        perceptual=perceptual,
        perceptual_weight=perceptual_weight,
        seed=seed,
        progress=progress,
    )
