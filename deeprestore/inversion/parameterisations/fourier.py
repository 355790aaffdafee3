"""The 1/f-scaled Fourier basis of Olah et al. (Distill 2017) as Lucid and Lucent implement it
(``param/spatial.py``: ``fft_image``).

The variable is the real 2-d spectrum of each channel, ``N×3×H×(W//2+1)×2`` (real and imaginary
parts), scaled by ``1 / max(f, 1/max(H, W))^decay`` with ``f = √(f_x² + f_y²)`` in cycles per pixel:
equal steps in the variable then move every spatial frequency by about as much as natural images
vary at it (their amplitude falls as 1/f), so gradient descent no longer favours high frequencies.
The image is the orthonormal inverse real FFT divided by 4 (Lucid's constant, kept so the
authors' initial scale 0.01 and learning rate 0.05 keep their meaning).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["DIVISOR", "frequency_scale", "image_to_spectrum", "spectrum_to_image"]

#: the constant the inverse FFT is divided by (Lucid's ``/ 4``)
DIVISOR = 4.0


def frequency_scale(size: tuple[int, int], decay: float = 1.0, device: torch.device | str = "cpu") -> Tensor:
    """``1 / max(f, 1/max(H, W))^decay`` on the ``H×(W//2+1)`` grid of :func:`torch.fft.rfft2`."""
    h, w = size
    fy = torch.fft.fftfreq(h, device=device).view(-1, 1)
    fx = torch.fft.rfftfreq(w, device=device).view(1, -1)
    f = (fx**2 + fy**2).sqrt()
    return 1.0 / f.clamp(min=1.0 / max(h, w)) ** decay


def spectrum_to_image(spectrum: Tensor, size: tuple[int, int], decay: float = 1.0) -> Tensor:
    """``N×C×H×(W//2+1)×2`` scaled spectrum → ``N×C×H×W`` (differentiable)."""
    scale = frequency_scale(size, decay, spectrum.device)
    return torch.fft.irfft2(torch.view_as_complex(spectrum.contiguous()) * scale, s=size, norm="ortho") / DIVISOR


def image_to_spectrum(images: Tensor, decay: float = 1.0) -> Tensor:
    """``N×C×H×W`` → the scaled spectrum that :func:`spectrum_to_image` maps back to ``images``."""
    size = (images.shape[-2], images.shape[-1])
    spectrum = torch.fft.rfft2(images.float() * DIVISOR, norm="ortho") / frequency_scale(size, decay, images.device)
    return torch.view_as_real(spectrum).contiguous()
