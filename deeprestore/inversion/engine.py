"""The optimisation engine: minimise a per-image energy over a batch of images.

Mahendran & Vedaldi (2015, 2016) pose inversion, activation maximisation and caricaturisation as

    x* = argmin_x  E_data(x) + Σ_i λ_i R_i(x)     (subject to each prior's hard constraint)

The engine runs that for N images at once, each its own problem: the data term (e.g.
:class:`~deeprestore.inversion.feature_loss.NormalisedFeatureLoss`) and every prior return one
value per image, and their sum is back-propagated so every image gets its own gradient.

* The variable is the image in M&V units (0–255 scale, mean colour subtracted;
  :mod:`deeprestore.priors.units`), so the authors' step sizes apply unchanged; the data term and
  the priors receive library images (``[0, 1]`` units).
* The run is a sequence of :class:`Phase` s, each with a fresh optimiser state, its own
  iterations, learning rate (or schedule) and jitter ``T`` (M&V 2016: 300 iterations with jitter,
  then 50 without at a tenth of the rate). With ``T > 1`` the variable is a canvas ``T − 1``
  pixels larger and the data term sees a random crop (:mod:`deeprestore.inversion.jitter`).
* After every step each prior's ``project`` is applied (the bounded range's hard bound).
* An image whose variable or energy becomes NaN or inf stops: it keeps its last good iterate, is
  reported in :attr:`InversionResult.diverged_at`, and the rest of the batch goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from deeprestore.inversion.jitter import centre_offset, crop, draw_offset
from deeprestore.priors.base import ImagePrior
from deeprestore.priors.units import from_mv_units, to_mv_units

DataTerm = Callable[[Tensor], Tensor]
StepperFactory = Callable[[Tensor, float, int], object]


@dataclass(frozen=True)
class Phase:
    """One phase of a run.

    Attributes:
        iterations: number of steps.
        lr: learning rate, or a function of the iteration within the phase.
        jitter: ``T`` (1 = no jitter).
        prior_weight: factor on every prior's λ, or a function of the iteration within the phase
            (a schedule that lets the priors fade; the hard projections apply whatever it is).
    """

    iterations: int
    lr: float | Callable[[int], float]
    jitter: int = 1
    prior_weight: float | Callable[[int], float] = 1.0

    def lr_at(self, iteration: int) -> float:
        return float(self.lr(iteration)) if callable(self.lr) else float(self.lr)

    def prior_weight_at(self, iteration: int) -> float:
        return float(self.prior_weight(iteration)) if callable(self.prior_weight) else float(self.prior_weight)


@dataclass
class InversionResult:
    """What :func:`minimise` returns.

    Attributes:
        images: ``N×3×H×W`` final images (library units; not clamped to [0, 1]).
        energy: ``(N,)`` total energy of the final images (priors on the final crop).
        data_energy: ``(N,)`` the data term alone.
        history: ``iterations × N`` energy at each iteration (before its step; NaN once diverged).
        diverged_at: per image, the iteration at which it diverged, or ``None``.
    """

    images: Tensor
    energy: Tensor
    data_energy: Tensor
    history: Tensor
    diverged_at: list[int | None]

    @property
    def diverged(self) -> list[int]:
        """Indices of the images that diverged."""
        return [i for i, it in enumerate(self.diverged_at) if it is not None]


def energy_terms(data: DataTerm, priors: Sequence[tuple[ImagePrior, float]], canvas: Tensor, view: Tensor) -> tuple[Tensor, Tensor]:
    """``(E, E_data)`` per image: the data term on ``view``, the priors on ``canvas`` (library units)."""
    data_value = data(view)
    value = data_value
    for prior, weight in priors:
        if weight:
            value = value + weight * prior(canvas)
    return value, data_value


def _resize_canvas(x: Tensor, size: tuple[int, int], jitter: int) -> Tensor:
    """The centre ``size`` crop of ``x``, padded (replicate) to a canvas for ``jitter``."""
    h, w = x.shape[-2:]
    top, left = (h - size[0]) // 2, (w - size[1]) // 2
    x = x[..., top : top + size[0], left : left + size[1]]
    extra = jitter - 1
    if extra > 0:
        x = F.pad(x, (extra // 2, extra - extra // 2, extra // 2, extra - extra // 2), mode="replicate")
    return x.contiguous()


def minimise(
    data: DataTerm,
    init: Tensor,
    make_stepper: StepperFactory,
    phases: Sequence[Phase],
    *,
    priors: Sequence[tuple[ImagePrior, float]] = (),
    seed: int = 0,
    progress: bool = True,
    description: str = "optimising",
) -> InversionResult:
    """Minimise ``data(x) + Σ λ R(x)`` per image.

    Args:
        data: per-image data term, ``N×3×H×W`` (library units) → ``(N,)``.
        init: ``N×3×H×W`` starting images in library units (a canvas is cut or padded from it).
        make_stepper: ``(variable, lr, H·W) → stepper`` (see :mod:`deeprestore.inversion.steppers`).
        phases: the phases to run, in order.
        priors: ``(prior, λ)`` pairs.
        seed: seed of the jitter.
        progress: show a progress bar.
    """
    if init.ndim != 4 or init.shape[1] != 3 or init.shape[0] == 0:
        raise ValueError(f"expected N×3×H×W initial images with N ≥ 1, got {tuple(init.shape)}")
    if not torch.isfinite(init).all():
        raise ValueError("the initial images contain NaN or inf")
    if not phases:
        raise ValueError("no phases to run")
    size = (init.shape[-2], init.shape[-1])
    n = init.shape[0]
    generator = torch.Generator().manual_seed(seed)
    x_mv = to_mv_units(init.detach().float())
    active = torch.ones(n, dtype=torch.bool, device=init.device)
    diverged_at: list[int | None] = [None] * n
    history: list[Tensor] = []
    bar = tqdm(total=sum(p.iterations for p in phases), desc=description, disable=not progress, leave=False)
    done = 0
    for phase in phases:
        x = _resize_canvas(x_mv, size, phase.jitter).requires_grad_(True)
        last_good = x.detach().clone()
        stepper = make_stepper(x, phase.lr_at(0), size[0] * size[1])
        for it in range(phase.iterations):
            offset = draw_offset(phase.jitter, generator)
            stepper.set_lr(phase.lr_at(it))
            factor = phase.prior_weight_at(it)
            weighted = [(prior, weight * factor) for prior, weight in priors]

            def energy() -> Tensor:
                canvas = from_mv_units(x)
                return energy_terms(data, weighted, canvas, crop(canvas, offset, size))[0]

            value = stepper.step(energy)
            with torch.no_grad():
                if priors:
                    canvas = from_mv_units(x)
                    for prior, _ in priors:
                        canvas = prior.project(canvas)
                    x.copy_(to_mv_units(canvas))
                ok = torch.isfinite(x).flatten(1).all(1) & torch.isfinite(value)
                if not bool((ok & active).all()):  # something diverged now or before: restore those images
                    for i in torch.nonzero(active & ~ok).flatten().tolist():
                        diverged_at[i] = done + it
                    active &= ok
                    x.copy_(torch.where(active.view(-1, 1, 1, 1), x, last_good))
                last_good.copy_(x)
            history.append(torch.where(active, value, torch.nan))
            bar.update(1)
            if it % 10 == 0 and active.any():
                bar.set_postfix(energy=f"{float(value[active].mean()):.4g}")
        done += phase.iterations
        x_mv = crop(x.detach(), centre_offset(phase.jitter), size).contiguous()
    bar.close()
    images = from_mv_units(x_mv)
    with torch.no_grad():
        energy, data_energy = energy_terms(data, priors, images, images)
    return InversionResult(images, energy, data_energy, torch.stack(history).cpu() if history else torch.empty(0, n), diverged_at)
