"""The magnitude spectrum of the project's training photos, the fixed magnitude of MACO's
phase-only parameterisation (Fel et al., NeurIPS 2023: the magnitude is held at the average
magnitude spectrum of natural images, ImageNet's in the paper).

The authors measure it on ImageNet and download it; here it is measured on the eight photos of
the training split of :class:`datamodules.SamplePhotos` (no download), at the size it is needed:

1. each photo is resized (bilinear, antialiased) so its shorter side is twice the canvas's longer
   side — the project's crop convention (128-pixel crops of photos resized to 256) — and its four
   corner and centre ``H×W`` crops are taken: 40 crops;
2. each crop, in ``[0, 1]``, is taken to the decorrelated colour basis ``z = C⁻¹ x`` (``C``:
   ImageNet's basis, :data:`~.colour.IMAGENET_COLOUR_SQRT` normalised, as MACO's and Lucent's);
3. the template is the mean over the crops of ``|rfft2(z)|`` (orthonormal FFT), per channel, made
   exactly symmetric on the self-conjugate columns (``|X[h, 0]| = |X[−h, 0]|``, and the same at
   ``W/2`` for an even width); the zero-frequency term keeps the sign of the crops' mean (the mean
   colour), so it is a signed number rather than a magnitude;
4. it is scaled so the image it gives is standardised — zero mean and unit standard deviation over
   its three channels and pixels — as MACO standardises its image before the colour mapping. By
   Parseval's theorem an image whose spectrum has this magnitude has that energy whatever its
   phase, so the scaling, done once here, is the same as MACO's at every step.

:func:`photo_magnitude` measures it once per size (``functools`` cache; a 128×128 template takes
about a second on a CPU core).
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

from datamodules.sample_photos import SamplePhotos, load_sample_photo
from deeprestore.inversion.parameterisations.colour import IMAGENET_COLOUR_SQRT, normalised_basis

__all__ = ["mirrored_rows", "photo_magnitude", "self_conjugate_columns", "training_photo_crops"]


def training_photo_crops(size: tuple[int, int]) -> Tensor:
    """The ``40×3×H×W`` crops of step 1 (in ``[0, 1]``): five of each training photo."""
    h, w = size
    crops = []
    for name in SamplePhotos.split_names("train"):
        photo = TF.resize(load_sample_photo(name), [2 * max(h, w)], antialias=True).float() / 255
        ph, pw = photo.shape[-2:]
        corners = [(0, 0), (0, pw - w), (ph - h, 0), (ph - h, pw - w), ((ph - h) // 2, (pw - w) // 2)]
        crops += [photo[:, top : top + h, left : left + w] for top, left in corners]
    return torch.stack(crops)


def self_conjugate_columns(width: int) -> Tensor:
    """``(W//2+1,)`` booleans: the columns of an ``rfft2`` spectrum that hold their own conjugates
    (column 0, and ``W/2`` for an even width)."""
    columns = torch.zeros(width // 2 + 1, dtype=torch.bool)
    columns[0] = True
    if width % 2 == 0:
        columns[-1] = True
    return columns


def mirrored_rows(spectrum: Tensor) -> Tensor:
    """Row ``h`` of the result is row ``−h mod H`` of ``spectrum`` (``…×H×K``): the partner of each
    frequency in a self-conjugate column."""
    return torch.roll(torch.flip(spectrum, dims=(-2,)), shifts=1, dims=-2)


@lru_cache(maxsize=8)
def photo_magnitude(size: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """``(magnitude, zero_phase)`` for images of ``size = (H, W)``, on the CPU (float32):

    * ``magnitude``: ``3×H×(W//2+1)``, the template of the module docstring (non-negative);
    * ``zero_phase``: ``3×H×(W//2+1)``, 0 everywhere except ``π`` at the zero frequency of a
      channel whose mean is negative (the sign step 3 keeps).
    """
    h, w = size
    basis = normalised_basis(torch.tensor(IMAGENET_COLOUR_SQRT, dtype=torch.float64))
    z = torch.einsum("ij,njhw->nihw", torch.linalg.inv(basis), training_photo_crops(size).double())
    spectra = torch.fft.rfft2(z, norm="ortho")
    magnitude = spectra.abs().mean(0)
    columns = self_conjugate_columns(w)
    magnitude = torch.where(columns, (magnitude + mirrored_rows(magnitude)) / 2, magnitude)
    signed = magnitude.clone()
    signed[:, 0, 0] = spectra[:, :, 0, 0].real.mean(0)  # the mean colour, with its sign
    image = torch.fft.irfft2(signed.to(torch.complex128), s=size, norm="ortho")  # any phase gives the same mean and energy
    standardised = torch.fft.rfft2((image - image.mean()) / image.std(unbiased=False), norm="ortho")
    magnitude = standardised.abs()
    zero_phase = torch.zeros_like(magnitude)
    zero_phase[:, 0, 0] = torch.where(standardised[:, 0, 0].real < 0, math.pi, 0.0)
    return magnitude.float(), zero_phase.float()
