"""How sharp a reconstruction is next to its original: the high-frequency energy ratio.

A pixel loss averages the details it cannot place, so its reconstructions are blurred; a
perceptual or adversarial loss puts details back (Dosovitskiy & Brox, NeurIPS 2016, "Generating
images with perceptual similarity metrics based on deep networks", §1 and fig. 1). SSIM and PSNR
reward the blur; this measure shows it. For each image

    ratio = E_hf(x̂) / E_hf(x),    E_hf(z) = Σ_c Σ_{|f| > f_c} |F[w ⊙ (z_c − mean z_c)](f)|²

where ``F`` is the 2-D DFT, ``w`` a separable Hann window (against the border's leakage), ``|f|``
the radial frequency in cycles per pixel (Nyquist = 0.5) and ``f_c`` the cutoff. A ratio of 1 is
as much fine detail as the original, below 1 blurred, above 1 noisier or sharper than the photo.
The DFT is linear, so a sinusoid above the cutoff scaled by ``a`` gives ``a²`` (tested).
"""

from __future__ import annotations

import torch
from torch import Tensor

from deeprestore.metrics._checks import check_image_pair
from deeprestore.precision import compute_dtype, full_precision

__all__ = ["HIGH_FREQUENCY_CUTOFF", "high_frequency_energy", "high_frequency_ratio"]

#: Default cutoff: a quarter cycle per pixel, half the Nyquist frequency (periods under 4 pixels).
HIGH_FREQUENCY_CUTOFF: float = 0.25


def high_frequency_energy(images: Tensor, cutoff: float = HIGH_FREQUENCY_CUTOFF) -> Tensor:
    """``E_hf`` of each image (module docstring): ``N×C×H×W`` → ``(N,)``, in the compute dtype."""
    if not 0.0 < cutoff < 0.5 * 2**0.5:
        raise ValueError(f"cutoff must be in (0, 0.707) cycles per pixel (0.5 is Nyquist), got {cutoff}")
    with full_precision(images.device):
        z = images.to(compute_dtype(images))
        h, w = z.shape[-2:]
        window = torch.hann_window(h, periodic=False, dtype=z.dtype, device=z.device)[:, None] * torch.hann_window(
            w, periodic=False, dtype=z.dtype, device=z.device
        )
        z = (z - z.mean(dim=(-2, -1), keepdim=True)) * window
        power = torch.fft.rfft2(z).abs().square()  # N×C×H×(W//2+1)
        fy = torch.fft.fftfreq(h, device=z.device, dtype=z.dtype)[:, None]
        fx = torch.fft.rfftfreq(w, device=z.device, dtype=z.dtype)[None, :]
        high = (fy.square() + fx.square()).sqrt() > cutoff
        # the half spectrum holds columns 1 … W/2 once for two conjugate frequencies: count them twice
        weight = torch.full_like(fx, 2.0)
        weight[..., 0] = 1.0
        if w % 2 == 0:
            weight[..., -1] = 1.0
        return (power * (high * weight)).sum(dim=(1, 2, 3))


def high_frequency_ratio(reconstructions: Tensor, originals: Tensor, cutoff: float = HIGH_FREQUENCY_CUTOFF) -> Tensor:
    """``E_hf(x̂) / E_hf(x)`` per image (module docstring), reconstructions clamped to ``[0, 1]``.

    Args:
        reconstructions: ``N×C×H×W`` in ``[0, 1]`` (clamped here, as the other image metrics do).
        originals: ``N×C×H×W`` in ``[0, 1]``.
        cutoff: radial frequency in cycles per pixel above which energy counts.

    Returns:
        ``(N,)`` ratios; an original with no energy above the cutoff (a flat image) gives ``inf``
        or ``nan``.
    """
    check_image_pair(reconstructions, originals, ("reconstructions", "originals"))
    return high_frequency_energy(reconstructions.clamp(0.0, 1.0), cutoff) / high_frequency_energy(originals, cutoff)
