"""The gradient-descent baseline for inverting a generator (Bora, Jalal, Price & Dimakis 2017,
"Compressed sensing using generative models", CSGM; the baseline of Lei et al. 2019, Section 5).

``ẑ = argmin_z ‖G(z) − x‖²`` by Adam from random ``N(0, I)`` starts, several restarts, keeping per
sample the restart with the smallest final loss. All samples and restarts are one batch (Adam is
elementwise and the loss a sum of per-row terms, so the rows do not interact). The variable may
also be an intermediate layer ``h_layer`` (``G`` then runs ``forward_from(layer)``).

Defaults (``steps=1000``, ``lr=0.05``, 4 restarts, the rate decayed by a cosine to ``1e-3·lr``,
float64) are chosen so that plain Adam converges to round-off on a random 20→100→500 ReLU
network whenever it is in the right basin: the decay removes Adam's ``O(lr)`` jitter, float64
its float32 floor. Nothing in them is tuned against the method.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor
from tqdm.auto import tqdm

from deeprestore.generative.staged_generator import StagedGenerator
from deeprestore.plain_adam import PlainAdam

__all__ = ["invert_by_gradient_descent"]


def invert_by_gradient_descent(
    generator: StagedGenerator,
    x: Tensor,
    *,
    layer: int = 0,
    steps: int = 1000,
    lr: float = 0.05,
    restarts: int = 4,
    seed: int = 0,
    final_lr_ratio: float = 1e-3,
    dtype: torch.dtype = torch.float64,
    return_loss: bool = False,
    progress: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """``argmin_h ‖G_{layer→image}(h) − x‖²`` by Adam with restarts (CSGM, Bora et al. 2017 §3).

    Args:
        generator: the :class:`StagedGenerator` (not modified: a copy in ``dtype`` is used).
        x: ``N × image shape`` targets.
        layer: the layer optimised (0 = latent).
        steps: Adam iterations.
        lr: initial learning rate, decayed by a cosine to ``final_lr_ratio · lr``.
        restarts: random starts per sample (``N(0, I)``, seeded by ``seed``).
        seed: seeds the starts.
        final_lr_ratio: the rate at the last step relative to ``lr``.
        dtype: computation dtype.
        return_loss: also return the best loss per sample.
        progress: tqdm bar over steps.

    Returns:
        ``h``: ``N × layer_shapes()[layer]`` (``dtype``, CPU), the best restart per sample; and
        ``N`` losses ``‖G(h) − x‖²`` if asked.
    """
    generator.check_layer(layer)
    if layer == generator.num_stages:
        raise ValueError("layer must be below the image layer")
    if restarts < 1 or steps < 0:
        raise ValueError("need restarts >= 1 and steps >= 0")
    p = next(generator.parameters(), None)
    device = torch.device("cpu") if p is None else p.device
    model = copy.deepcopy(generator).to(device=device, dtype=dtype).requires_grad_(False).eval()
    shape = model.layer_shapes()[layer]
    n = x.shape[0]
    target = x.detach().to(device=device, dtype=dtype).repeat(restarts, *([1] * (x.dim() - 1)))
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(restarts * n, *shape, generator=g, dtype=dtype).to(device).requires_grad_(True)
    opt = PlainAdam(h)

    def rate(i: int) -> float:
        return lr * (final_lr_ratio + (1 - final_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(i, steps) / max(steps, 1))))

    def per_row_loss() -> Tensor:
        return (model.forward_from(layer, h) - target).flatten(1).pow(2).sum(1)

    for i in tqdm(range(steps), desc="GD inversion", unit="step", disable=not progress):
        h.grad = None
        per_row_loss().sum().backward()
        opt.step(rate(i))
    with torch.no_grad():
        loss = per_row_loss().reshape(restarts, n)
        best = loss.argmin(0)
        h_best = h.detach().reshape(restarts, n, *shape)[best, torch.arange(n, device=device)].cpu()
        best_loss = loss[best, torch.arange(n, device=device)].cpu()
    return (h_best, best_loss) if return_loss else h_best
