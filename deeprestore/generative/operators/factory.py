"""``make_operator(name, image_shape, …)``: forward operators by name (for configs and CLIs)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from deeprestore.generative.operators.base import ForwardOperator, check_image_shape
from deeprestore.generative.operators.compressed_sensing import GaussianCompressedSensing, PartialCirculantCompressedSensing
from deeprestore.generative.operators.denoising import GaussianDenoising
from deeprestore.generative.operators.inpainting import BoxInpainting, RandomPixelInpainting
from deeprestore.generative.operators.super_resolution import SuperResolution

__all__ = ["OPERATOR_NAMES", "make_operator"]

OPERATOR_NAMES = ("inpaint-pixels", "inpaint-box", "denoise", "super-resolution", "cs-gaussian", "cs-circulant")

# the options each name accepts, besides seed and noise_std
_OPTIONS: dict[str, tuple[str, ...]] = {
    "inpaint-pixels": ("keep_fraction",),
    "inpaint-box": ("box_size", "top", "left"),
    "denoise": (),
    "super-resolution": ("factor", "mode"),
    "cs-gaussian": ("num_measurements", "max_entries"),
    "cs-circulant": ("num_measurements", "subsample"),
}


def make_operator(name: str, image_shape: Sequence[int], *, seed: int = 0, noise_std: float = 0.0, **options: Any) -> ForwardOperator:
    """The operator called ``name`` (one of :data:`OPERATOR_NAMES`) on ``(C, H, W)`` images.

    Defaults: ``inpaint-pixels`` keeps ``keep_fraction = 0.2`` of the pixels; ``inpaint-box``
    removes a centred ``H//2`` square (``box_size``, ``top``, ``left``); ``denoise`` uses
    ``noise_std = 0.1`` when 0 is given; ``super-resolution`` has ``factor = 4``, ``mode = "area"``;
    ``cs-gaussian`` and ``cs-circulant`` take ``num_measurements = n // 8`` (``n = C·H·W``, at
    least 1). ``seed`` fixes the random operators; ``noise_std`` is the measurement noise of all.

    Raises:
        ValueError: unknown ``name`` (the message lists the names), an option the operator does not
            take, or a bad option value.
    """
    if name not in _OPTIONS:
        raise ValueError(f"unknown operator {name!r}; known operators: {', '.join(OPERATOR_NAMES)}")
    unknown = sorted(set(options) - set(_OPTIONS[name]))
    if unknown:
        accepted = ", ".join(("seed", "noise_std", *_OPTIONS[name]))
        raise ValueError(f"operator {name!r} takes no option(s) {', '.join(unknown)}; it accepts {accepted}")
    shape = check_image_shape(image_shape)
    n = math.prod(shape)
    if name == "inpaint-pixels":
        return RandomPixelInpainting(shape, options.get("keep_fraction", 0.2), seed=seed, noise_std=noise_std)
    if name == "inpaint-box":
        return BoxInpainting(
            shape, options.get("box_size", shape[1] // 2), top=options.get("top"), left=options.get("left"), noise_std=noise_std
        )
    if name == "denoise":
        return GaussianDenoising(shape, noise_std=noise_std if noise_std != 0 else 0.1)
    if name == "super-resolution":
        return SuperResolution(shape, options.get("factor", 4), mode=options.get("mode", "area"), noise_std=noise_std)
    m = options.get("num_measurements", max(1, n // 8))
    if name == "cs-gaussian":
        extra = {"max_entries": options["max_entries"]} if "max_entries" in options else {}
        return GaussianCompressedSensing(shape, m, seed=seed, noise_std=noise_std, **extra)
    return PartialCirculantCompressedSensing(shape, m, seed=seed, noise_std=noise_std, subsample=options.get("subsample", "random"))
