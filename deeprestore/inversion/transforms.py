"""Random transformations of the image the network sees, drawn anew at every step (transformation
robustness: Olah et al., Distill 2017; DeepInversion's jitter and flip; Plug-In Inversion's colour
shift).

:class:`RandomTransforms` applies, in this order, to the ``N×3×H×W`` view (library units):

1. **pad** by ``pad`` pixels with the value ``pad_value`` (Lucent: 12, grey 0.5);
2. **jitter, scale, rotation, jitter** as one affine warp (torchvision's
   ``transforms.v2.functional.affine``, bilinear): a translation by ``jitter`` pixels, a scale from
   ``scales``, a rotation from ``angles`` (degrees) about the centre, a translation by
   ``jitter_after`` — Lucent's ``standard_transforms`` order, composed into one resampling;
3. the centre ``H×W`` **crop** (``center_crop``), so the view keeps the size the target features
   were computed at;
4. a random **box** resized to the whole view (bilinear; MACO's crops, Fel et al. 2023): its side
   a fraction ``U(box)`` of the view's, its centre at ``(½, ½) + box_centre_sd · N(0, I)`` of the
   view's sides, both rounded to whole pixels (outside the view: ``pad_value``);
5. **roll** by up to ``±roll`` pixels with wrap-around (DeepInversion: 30; Plug-In Inversion: 32);
6. horizontal **flip** with probability ½ (``flip``; DeepInversion);
7. **colour shift** ``σ_c x + μ_c`` per channel, ``μ_c ~ U(−α, α)``, ``σ_c = exp(U(−β, β))``
   (``colour_shift = (α, β)``; Plug-In Inversion's ``ColorJitterR``: α = β = 1);
8. **noise** per pixel: ``noise · N(0, 1) + noise · U(−½, ½)`` (MACO's two noises).

Every step is differentiable and keeps the batch shape. The parameters are drawn from the
generator the engine passes, once per call and shared by the images of the batch, so an image's
result does not depend on its batch; an ensemble (Plug-In Inversion, MACO) calls it once per copy.
The noise, one value per pixel, is drawn on the images' device from a generator seeded from the
engine's, so no tensor is copied to the device for it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

__all__ = ["LUCENT_ANGLES", "LUCENT_SCALES", "RandomTransforms"]

#: Lucent's ``random_scale`` factors: 0.90, 0.92, …, 1.10
LUCENT_SCALES = tuple(1 + (i - 5) / 50 for i in range(11))
#: Lucent's ``random_rotate`` angles: −10 … 10 degrees, 0 six times as likely
LUCENT_ANGLES = tuple(float(a) for a in [*range(-10, 11), *([0] * 5)])


def _uniform(generator: torch.Generator, low: float, high: float, n: int = 1) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)


def _pick(values: Sequence[float], generator: torch.Generator) -> float:
    return float(values[int(torch.randint(len(values), (1,), generator=generator))])


@dataclass(frozen=True)
class RandomTransforms:
    """The random transformations of one step (see the module docstring for the order).

    Attributes:
        pad: pixels of padding before the warp (0: none).
        pad_value: the padding's grey level.
        jitter: translations before the scale and rotation, uniform in ``{0, …, jitter − 1}`` per
            axis (Lucent's ``jitter(8)``); 0 or 1: none.
        scales: scale factors to pick from (empty: none).
        angles: rotation angles in degrees to pick from (empty: none).
        jitter_after: translations after them (Lucent's ``jitter(4)``).
        box: ``(low, high)`` of the random box's side, as a fraction of the view's (``None``: no box).
        box_centre_sd: standard deviation of the box's centre, as a fraction of the view's sides.
        roll: circular shift, uniform in ``{−roll, …, roll}`` per axis (0: none).
        flip: horizontal flip with probability ½.
        colour_shift: ``(α, β)`` of the colour shift, or ``None``.
        noise: scale of the per-pixel noise (0: none).
    """

    pad: int = 0
    pad_value: float = 0.5
    jitter: int = 0
    scales: tuple[float, ...] = ()
    angles: tuple[float, ...] = ()
    jitter_after: int = 0
    box: tuple[float, float] | None = None
    box_centre_sd: float = 0.0
    roll: int = 0
    flip: bool = False
    colour_shift: tuple[float, float] | None = None
    noise: float = 0.0

    def __post_init__(self) -> None:
        if self.box is not None and not 0 < self.box[0] <= self.box[1]:
            raise ValueError(f"box must be (low, high) fractions with 0 < low ≤ high, got {self.box}")
        if self.noise < 0 or self.box_centre_sd < 0:
            raise ValueError(f"noise and box_centre_sd must be non-negative, got {self.noise} and {self.box_centre_sd}")

    @property
    def warps(self) -> bool:
        return self.jitter > 1 or self.jitter_after > 1 or bool(self.scales) or bool(self.angles)

    def affine_parameters(self, generator: torch.Generator) -> tuple[float, float, tuple[float, float]]:
        """``(angle, scale, translation)`` of the composed warp ``T₂ ∘ R ∘ S ∘ T₁``: the image is
        scaled and rotated about its centre, then moved by ``R S t₁ + t₂``."""
        t1 = [float(torch.randint(self.jitter, (1,), generator=generator)) if self.jitter > 1 else 0.0 for _ in range(2)]
        scale = _pick(self.scales, generator) if self.scales else 1.0
        angle = _pick(self.angles, generator) if self.angles else 0.0
        t2 = [float(torch.randint(self.jitter_after, (1,), generator=generator)) if self.jitter_after > 1 else 0.0 for _ in range(2)]
        # a shift t₁ made before torchvision's scale and rotation lands at S·R·t₁, R = [[cos, −sin], [sin, cos]] in its (x, y)
        a = math.radians(angle)
        moved = (scale * (math.cos(a) * t1[0] - math.sin(a) * t1[1]) + t2[0], scale * (math.sin(a) * t1[0] + math.cos(a) * t1[1]) + t2[1])
        return angle, scale, moved

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        """``N×3×H×W`` → ``N×3×H×W``, differentiable."""
        size = [images.shape[-2], images.shape[-1]]
        x = images
        if self.pad > 0:
            x = TF.pad(x, [self.pad], fill=self.pad_value)
        if self.warps:
            angle, scale, moved = self.affine_parameters(generator)
            # filled with pad_value: warp x − pad_value with torchvision's zero fill (its fill path is not differentiable)
            x = (
                TF.affine(
                    x - self.pad_value,
                    angle=angle,
                    translate=list(moved),
                    scale=scale,
                    shear=[0.0, 0.0],
                    interpolation=TF.InterpolationMode.BILINEAR,
                )
                + self.pad_value
            )
        if list(x.shape[-2:]) != size:
            x = TF.center_crop(x, size)
        if self.box is not None:
            x = self._box(x, generator)
        if self.roll > 0:
            dy, dx = (int(v) for v in torch.randint(-self.roll, self.roll + 1, (2,), generator=generator))
            x = torch.roll(x, shifts=(dy, dx), dims=(-2, -1))
        if self.flip and bool(torch.rand(1, generator=generator) < 0.5):
            x = TF.horizontal_flip(x)
        if self.colour_shift is not None:
            alpha, beta = self.colour_shift
            mu = _uniform(generator, -alpha, alpha, 3).to(x).view(1, 3, 1, 1)
            sigma = _uniform(generator, -beta, beta, 3).exp().to(x).view(1, 3, 1, 1)
            x = sigma * x + mu
        if self.noise > 0:
            x = x + self._noise(x, generator)
        return x

    def _box(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """The random box of step 4 (whole pixels), padded with ``pad_value`` where it leaves the view
        and resized to the view: slicing, padding and resizing need no tensor copied to the device."""
        h, w = x.shape[-2:]
        side = float(_uniform(generator, *self.box))
        centre = 0.5 + self.box_centre_sd * torch.randn(2, generator=generator, dtype=torch.float64)
        bh, bw = max(1, round(side * h)), max(1, round(side * w))
        top, left = round(float(centre[0]) * h - bh / 2), round(float(centre[1]) * w - bw / 2)
        pads = (max(0, -left), max(0, left + bw - w), max(0, -top), max(0, top + bh - h))
        if any(pads):
            x = F.pad(x, pads, value=self.pad_value)
        top, left = top + pads[2], left + pads[0]
        box = x[..., top : top + bh, left : left + bw]
        return F.interpolate(box, size=(h, w), mode="bilinear", align_corners=False, antialias=bh > h or bw > w)

    def _noise(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Step 8's noise, drawn on ``x``'s device."""
        on_device = torch.Generator(device=x.device).manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
        gaussian = torch.randn(x.shape, generator=on_device, device=x.device, dtype=x.dtype)
        uniform = torch.rand(x.shape, generator=on_device, device=x.device, dtype=x.dtype) - 0.5
        return self.noise * (gaussian + uniform)
