"""The ramped learning rate of StyleGAN's projector (Karras et al. 2020, "Analyzing and improving
the image quality of StyleGAN", Appendix D), which ILO (Daras et al. 2021) uses at every layer:
a linear warm-up over the first ``rampup`` fraction of the steps and a cosine decay to zero over
the last ``rampdown`` fraction."""

from __future__ import annotations

import math

__all__ = ["ramped_lr"]


def ramped_lr(step: int, steps: int, lr: float, rampup: float = 0.05, rampdown: float = 0.25) -> float:
    """Learning rate at ``step`` (0-based) of ``steps``."""
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    t = step / steps
    scale = min(1.0, (1.0 - t) / rampdown) if rampdown > 0 else 1.0
    scale = 0.5 - 0.5 * math.cos(scale * math.pi)
    if rampup > 0:
        scale *= min(1.0, (t + 1.0 / steps) / rampup)
    return lr * scale
