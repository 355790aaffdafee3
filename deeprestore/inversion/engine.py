"""The optimisation engine: minimise a per-image energy over a batch of images.

Mahendran & Vedaldi (2015, 2016) pose inversion, activation maximisation and caricaturisation as

    x* = argmin_x  E_data(x) + Σ_i λ_i R_i(x)     (subject to each prior's hard constraint)

The engine runs that for N images at once, each its own problem: the data term (e.g.
:class:`~deeprestore.inversion.feature_loss.NormalisedFeatureLoss`) and every prior return one
value per image, and their sum is back-propagated so every image gets its own gradient.

* The variable is what a :class:`~deeprestore.inversion.parameterisations.Parameterisation`
  encodes the image as: by default the image in M&V units (0–255 scale, mean colour subtracted;
  :class:`~deeprestore.inversion.parameterisations.MVPixels`), so the authors' step sizes apply
  unchanged; or Lucent's Fourier / decorrelated-colour bases. Every step decodes it: the data term,
  the priors and the transforms see library images (``[0, 1]`` units).
* The run is a sequence of :class:`Phase` s, each with a fresh optimiser state, its own
  iterations, learning rate (or schedule) and jitter ``T`` (M&V 2016: 300 iterations with jitter,
  then 50 without at a tenth of the rate). With ``T > 1`` the variable is a canvas ``T − 1``
  pixels larger and the data term sees a random crop (:mod:`deeprestore.inversion.jitter`). A
  phase at a ``resolution`` below 1 optimises a smaller canvas that is up-sampled (bilinear) to the
  full size before anything sees it (Plug-In Inversion's progressive resolution); the next phase
  starts from the up-sampled image.
* Optionally, the view the data term sees passes through random transformations
  (:class:`~deeprestore.inversion.transforms.RandomTransforms`) drawn anew each step, and with
  ``ensemble = E`` the data term is the mean over ``E`` independently transformed copies (Plug-In
  Inversion's augmentation ensemble).
* After every step each prior's ``project`` is applied to the decoded image (the bounded range's
  hard bound), which is then encoded back.
* An image whose variable or energy becomes NaN or inf stops: it keeps its last good iterate, is
  reported in :attr:`InversionResult.diverged_at`, and the rest of the batch goes on.
* The loop never waits for the device (on a GPU, each wait stalls the stream): divergence is
  tracked in tensors and read once at the end; the progress bar reads the mean energy every 10
  iterations, and only when it is shown (``benchmarks``/tests count the waits with
  :class:`~deeprestore.host_syncs.HostSyncCounter`).
* On request (``snapshot_every = k``) the images are kept after every ``k`` iterations, counted
  over all phases, and at the start (:attr:`InversionResult.snapshots`): how quality grows with
  the budget, from one run (``benchmarks/time_to_quality.py``). Each snapshot is a copy to the host.
* On request (``attribution=True``) the absolute gradient of the energy with respect to the decoded
  image is summed over the iterations, on the device (:attr:`InversionResult.attribution`): MACO's
  "transparency" map (Fel et al., NeurIPS 2023), where the optimisation changed the image most.
* A phase of 0 iterations leaves the images as they are (no encoding and decoding either).
* A parameterisation that is not lossless (:class:`~deeprestore.inversion.parameterisations.PhaseImage`)
  cannot go with a projecting prior: the projection would be encoded back without its magnitude.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.profiler import record_function
from tqdm.auto import tqdm

from deeprestore.inversion.jitter import centre_offset, crop, draw_offset
from deeprestore.inversion.parameterisations import MVPixels, Parameterisation
from deeprestore.inversion.transforms import RandomTransforms
from deeprestore.priors.base import ImagePrior

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
        resolution: side of the optimised canvas as a fraction of the image's (1: full size).
    """

    iterations: int
    lr: float | Callable[[int], float]
    jitter: int = 1
    prior_weight: float | Callable[[int], float] = 1.0
    resolution: float = 1.0

    def lr_at(self, iteration: int) -> float:
        return float(self.lr(iteration)) if callable(self.lr) else float(self.lr)

    def prior_weight_at(self, iteration: int) -> float:
        return float(self.prior_weight(iteration)) if callable(self.prior_weight) else float(self.prior_weight)

    def scaled(self, factor: float) -> Phase:
        """This phase with ``round(iterations · factor)`` iterations (at least 1; a phase of 0 stays
        0); a schedule of the learning rate or the prior weight is stretched with it (iteration
        ``i`` of the new phase reads the schedule at ``⌊i / factor⌋``)."""
        count = max(1, round(self.iterations * factor)) if self.iterations else 0
        if count == self.iterations:
            return self
        ratio, last = self.iterations / count, self.iterations - 1

        def stretch(schedule: float | Callable[[int], float]) -> float | Callable[[int], float]:
            return (lambda it: schedule(min(int(it * ratio), last))) if callable(schedule) else schedule

        return replace(self, iterations=count, lr=stretch(self.lr), prior_weight=stretch(self.prior_weight))


def cosine_schedule(lr: float, iterations: int, warmup: int = 0) -> Callable[[int], float]:
    """A linear warm-up over ``warmup`` iterations, then a cosine decay to 0 over the rest
    (DeepInversion's ``lr_cosine_policy``; Plug-In Inversion's ``CosineAnnealingLR`` with no warm-up)."""

    def at(it: int) -> float:
        if it < warmup:
            return lr * (it + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (it - warmup) / max(iterations - warmup, 1))) * lr

    return at


@dataclass
class InversionResult:
    """What :func:`minimise` returns.

    Attributes:
        images: ``N×3×H×W`` final images (library units; not clamped to [0, 1]).
        energy: ``(N,)`` total energy of the final images (priors on the final crop).
        data_energy: ``(N,)`` the data term alone.
        history: ``iterations × N`` energy at each iteration (before its step; NaN once diverged).
        diverged_at: per image, the iteration at which it diverged, or ``None``.
        snapshots: iterations done → ``N×3×H×W`` images then (on the CPU; iteration 0 is the
            start, the last is the final images); empty unless ``snapshot_every`` was given.
        attribution: ``N×3×H×W``, ``Σ_t |∂E/∂x_t|`` over the iterations ``t`` (the gradient of the
            energy with respect to the decoded image, its centre crop under jitter; an image adds
            nothing once diverged), on the images' device; ``None`` unless ``attribution`` was asked.
    """

    images: Tensor
    energy: Tensor
    data_energy: Tensor
    history: Tensor
    diverged_at: list[int | None]
    snapshots: dict[int, Tensor] = field(default_factory=dict)
    attribution: Tensor | None = None

    @property
    def diverged(self) -> list[int]:
        """Indices of the images that diverged."""
        return [i for i, it in enumerate(self.diverged_at) if it is not None]


def energy_terms(data: DataTerm, priors: Sequence[tuple[ImagePrior, float]], canvas: Tensor, view: Tensor) -> tuple[Tensor, Tensor]:
    """``(E, E_data)`` per image: the data term on ``view``, the priors on ``canvas`` (library units)."""
    with record_function("engine.data_term"):
        data_value = data(view)
    value = data_value
    with record_function("engine.priors"):
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


def _scaled(size: tuple[int, int], resolution: float) -> tuple[int, int]:
    return (max(1, round(size[0] * resolution)), max(1, round(size[1] * resolution)))


def _resample(images: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize to ``size`` (identity when already that size)."""
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=images.shape[-1] > size[1])


def _decoded(param: Parameterisation, x: Tensor, small: tuple[int, int], canvas_size: tuple[int, int]) -> Tensor:
    """The variable ``x`` (of a ``small`` canvas) as library images on the full ``canvas_size``."""
    return _resample(param.decode(x, small), canvas_size)


def _data_on_copies(data: DataTerm, transforms: RandomTransforms | None, copies: Sequence[int], view: Tensor) -> Tensor:
    """The data term on ``view``, or its mean over the copies transformed with the seeds ``copies``."""
    if not transforms:
        return data(view)
    return sum(data(transforms(view, torch.Generator().manual_seed(c))) for c in copies) / len(copies)


def _watched(decoded: Callable[[], Tensor], seen: list[Tensor]) -> Tensor:
    """``decoded()``, whose gradient is kept (``retain_grad``) the first time in a step that it is
    computed with gradients (a line search's further evaluations, a no-grad trial step: not kept)."""
    canvas = decoded()
    if canvas.requires_grad and not seen:
        canvas.retain_grad()
        seen.append(canvas)
    return canvas


def _step_energy(
    decoded: Callable[[], Tensor],
    seen: DataTerm,
    priors: Sequence[tuple[ImagePrior, float]],
    offset: tuple[int, int],
    size: tuple[int, int],
) -> Tensor:
    """One step's per-image energy: the data term on the jittered crop ``offset`` of the decoded
    canvas, the priors on the whole canvas."""
    with record_function("engine.decode"):
        canvas = decoded()
        view = crop(canvas, offset, size)
    return energy_terms(seen, priors, canvas, view)[0]


def minimise(
    data: DataTerm,
    init: Tensor,
    make_stepper: StepperFactory,
    phases: Sequence[Phase],
    *,
    priors: Sequence[tuple[ImagePrior, float]] = (),
    parameterisation: Parameterisation | None = None,
    transforms: RandomTransforms | None = None,
    ensemble: int = 1,
    seed: int = 0,
    progress: bool = True,
    description: str = "optimising",
    snapshot_every: int = 0,
    attribution: bool = False,
) -> InversionResult:
    """Minimise ``data(x) + Σ λ R(x)`` per image.

    Args:
        data: per-image data term, ``N×3×H×W`` (library units) → ``(N,)``.
        init: ``N×3×H×W`` starting images in library units (a canvas is cut or padded from it).
        make_stepper: ``(variable, lr, H·W) → stepper`` (see :mod:`deeprestore.inversion.steppers`).
        phases: the phases to run, in order.
        priors: ``(prior, λ)`` pairs.
        parameterisation: what the variable is (default: pixels in M&V units).
        transforms: random transformations of the data term's view, each step (default: none).
        ensemble: the data term is the mean over this many transformed copies (needs ``transforms``).
        seed: seed of the jitter and the transforms.
        progress: show a progress bar.
        snapshot_every: keep the images after every this many iterations (0: none; see
            :attr:`InversionResult.snapshots`).
        attribution: sum ``|∂E/∂x|`` over the iterations (:attr:`InversionResult.attribution`).

    Raises:
        ValueError: initial images that are not ``N×3×H×W`` and finite, no phases, an ensemble
            without transforms, a negative ``snapshot_every``, or a lossy parameterisation with a
            projecting prior.
    """
    if snapshot_every < 0:
        raise ValueError(f"snapshot_every must be 0 (none) or positive, got {snapshot_every}")
    if init.ndim != 4 or init.shape[1] != 3 or init.shape[0] == 0:
        raise ValueError(f"expected N×3×H×W initial images with N ≥ 1, got {tuple(init.shape)}")
    if not torch.isfinite(init).all():
        raise ValueError("the initial images contain NaN or inf")
    if not phases:
        raise ValueError("no phases to run")
    if ensemble < 1 or (ensemble > 1 and transforms is None):
        raise ValueError(
            f"ensemble must be 1, or more with transforms to draw the copies; got {ensemble} ({'with' if transforms else 'no'} transforms)"
        )
    param = parameterisation or MVPixels()
    size = (init.shape[-2], init.shape[-1])
    n = init.shape[0]
    generator = torch.Generator().manual_seed(seed)
    images = init.detach().float().clone()  # never the caller's tensor, even when no phase runs
    projects = any(type(prior).project is not ImagePrior.project for prior, _ in priors)
    if projects and not param.lossless:
        raise ValueError(
            f"the {param.name} parameterisation keeps only part of an image, so a projecting prior cannot be encoded back; "
            f"drop the priors with a hard bound ({', '.join(p.name for p, _ in priors if type(p).project is not ImagePrior.project)})"
        )
    active = torch.ones(n, dtype=torch.bool, device=init.device)
    diverged_step = torch.full((n,), -1, dtype=torch.long, device=init.device)  # -1: not diverged
    history: list[Tensor] = []
    bar = tqdm(total=sum(p.iterations for p in phases), desc=description, disable=not progress, leave=False)
    done = 0
    snapshots = {0: images.detach().cpu().clone()} if snapshot_every else {}
    attributed = torch.zeros_like(images) if attribution else None
    for phase in phases:
        if phase.iterations == 0:
            continue
        full = _resize_canvas(images, size, phase.jitter)
        canvas_size = tuple(full.shape[-2:])
        small = _scaled(canvas_size, phase.resolution)
        x = param.encode(_resample(full, small)).requires_grad_(True)
        last_good = x.detach().clone()
        stepper = make_stepper(x, phase.lr_at(0), size[0] * size[1])

        decoded = partial(_decoded, param, x, small, canvas_size)
        seen_canvas: list[Tensor] = []
        watched = partial(_watched, decoded, seen_canvas) if attribution else decoded
        for it in range(phase.iterations):
            offset = draw_offset(phase.jitter, generator)
            copies = [int(torch.randint(2**62, (1,), generator=generator)) for _ in range(ensemble)] if transforms else []
            stepper.set_lr(phase.lr_at(it))
            factor = phase.prior_weight_at(it)
            weighted = [(prior, weight * factor) for prior, weight in priors]
            seen = partial(_data_on_copies, data, transforms, copies)
            energy = partial(_step_energy, watched, seen, weighted, offset, size)
            with record_function("engine.step"):
                value = stepper.step(energy)
            with torch.no_grad():
                if projects:
                    with record_function("engine.projection"):
                        canvas = param.decode(x, small)
                        for prior, _ in priors:
                            canvas = prior.project(canvas)
                        x.copy_(param.encode(canvas))
                # divergence on the device, without waiting for it: an image that is not finite
                # now is marked at this iteration and keeps its last good iterate from now on
                ok = torch.isfinite(x).flatten(1).all(1) & torch.isfinite(value)
                diverged_step = torch.where(active & ~ok, done + it, diverged_step)
                active &= ok
                torch.where(active.view(-1, *[1] * (x.ndim - 1)), x, last_good, out=x)
                last_good.copy_(x)
                if attributed is not None and seen_canvas and seen_canvas[0].grad is not None:
                    gradient = crop(seen_canvas[0].grad, centre_offset(phase.jitter), size).abs().float()
                    attributed += torch.where(active.view(-1, 1, 1, 1), gradient, 0.0)
                seen_canvas.clear()
            history.append(torch.where(active, value, torch.nan))
            bar.update(1)
            if snapshot_every and (done + it + 1) % snapshot_every == 0:
                with torch.no_grad():
                    snapshots[done + it + 1] = crop(decoded(), centre_offset(phase.jitter), size).float().cpu()
            if progress and it % 10 == 0:  # the bar's one read of the device, every 10 iterations
                bar.set_postfix(energy=f"{float(history[-1].nanmean()):.4g}")
        done += phase.iterations
        with torch.no_grad():
            images = crop(decoded(), centre_offset(phase.jitter), size).contiguous()
    bar.close()
    with torch.no_grad():
        energy, data_energy = energy_terms(data, priors, images, images)
    diverged_at = [None if step < 0 else step for step in diverged_step.tolist()]
    if snapshot_every:
        snapshots[done] = images.detach().float().cpu()
    history_table = torch.stack(history).cpu() if history else torch.empty(0, n)
    return InversionResult(images, energy, data_energy, history_table, diverged_at, snapshots, attributed)
