"""MACO's phase-only parameterisation (Fel, Boissin, Boutin et al., "Unlocking Feature
Visualization for Deeper Networks with MAgnitude Constrained Optimization", NeurIPS 2023, the
method's definition: the image is the inverse Fourier transform of a fixed magnitude with an
optimised phase; the authors' Horama library, ``maco_fv.py``, ``maco_preconditioner``)::

    z = F⁻¹( M ⊙ e^{iφ} )          per channel, in the decorrelated colour basis
    x = σ( C z )                   C ImageNet's colour basis, σ the logistic function

The variable is the Fourier phase ``φ``, ``N×3×H×(W//2+1)`` (radians, the grid of
:func:`torch.fft.rfft2`); the magnitude ``M`` is fixed: the mean magnitude spectrum of the training
photos, scaled so ``z`` is standardised (:func:`~.photo_spectrum.photo_magnitude`, measured once per
size). Only the phase — where the edges and shapes are — is optimised; every image this
parameterisation makes has the photos' average amount of each spatial frequency, which is what
keeps MACO's visualisations from filling with high frequencies on deep networks.

Details:

* ``F⁻¹`` is the orthonormal inverse real FFT. On the self-conjugate columns of the spectrum
  (column 0, and ``W/2`` for an even width) the phase used is the odd part
  ``(φ[h] − φ[−h]) / 2``, so the spectrum is Hermitian there and the image's spectrum is exactly
  ``M ⊙ e^{iφ}``: its magnitude is ``M`` whatever ``φ`` (the zero frequency keeps the sign of the
  photos' mean colour). :meth:`PhaseImage.spatial` returns ``z``, the quantity whose magnitude is exact.
* The value mapping is MACO's — standardise (folded into ``M``), recorrelate colours, sigmoid —
  with the sigmoid's ``[0, 1]`` the library's image range (MACO scales it to ``[−2.5, 2.5]`` in the
  network's normalised units; the networks here normalise their input themselves).
* :meth:`PhaseImage.encode` returns the phase of an image (after inverting the sigmoid and the
  colour basis); **its magnitude is discarded**, so ``decode(encode(x))`` is ``x``'s phase with
  ``M``'s magnitude, not ``x``. The engine encodes the start and any prior's projection through it,
  so a preset with projecting priors (a bounded range, clipping) must not use this
  parameterisation: :attr:`PhaseImage.lossless` is false and the engine refuses the combination.
"""

from __future__ import annotations

import torch
from torch import Tensor

from deeprestore.inversion.parameterisations.base import Parameterisation
from deeprestore.inversion.parameterisations.colour import IMAGENET_COLOUR_SQRT, normalised_basis
from deeprestore.inversion.parameterisations.decorrelated import EPS
from deeprestore.inversion.parameterisations.photo_spectrum import mirrored_rows, photo_magnitude, self_conjugate_columns

__all__ = ["PhaseImage", "hermitian_phase"]


def hermitian_phase(phase: Tensor, columns: Tensor) -> Tensor:
    """``phase`` (``…×H×(W//2+1)``) with its odd part ``(φ[h] − φ[−h]) / 2`` on the self-conjugate
    ``columns`` (:func:`~.photo_spectrum.self_conjugate_columns`, on ``phase``'s device), so that a
    spectrum with a symmetric magnitude and this phase is Hermitian."""
    odd = (phase - mirrored_rows(phase)) / 2
    return torch.where(columns, odd, phase)


class PhaseImage(Parameterisation):
    """``x = σ(C · F⁻¹(M ⊙ e^{iφ}))`` with a fixed magnitude ``M`` (see the module docstring)."""

    name = "phase"
    lossless = False

    def __init__(self) -> None:
        self.basis = normalised_basis(torch.tensor(IMAGENET_COLOUR_SQRT))
        self._templates: dict[tuple, tuple[Tensor, Tensor, Tensor]] = {}
        self._bases: dict[tuple, Tensor] = {}

    def template(self, size: tuple[int, int], like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(M, zero_phase, columns)`` for ``size`` on ``like``'s device (copied once, so the steps copy
        nothing): ``M`` and ``zero_phase`` ``3×H×(W//2+1)`` (:func:`~.photo_spectrum.photo_magnitude`),
        ``columns`` the self-conjugate columns."""
        key = (tuple(size), like.device)
        if key not in self._templates:
            magnitude, zero_phase = photo_magnitude(tuple(size))
            columns = self_conjugate_columns(size[1])
            self._templates[key] = (magnitude.to(like.device), zero_phase.to(like.device), columns.to(like.device))
        return self._templates[key]

    def _basis_on(self, like: Tensor) -> Tensor:
        """The colour basis on ``like``'s device and dtype (copied once)."""
        key = (like.device, like.dtype)
        if key not in self._bases:
            self._bases[key] = self.basis.to(like)
        return self._bases[key]

    def spatial(self, variable: Tensor, size: tuple[int, int]) -> Tensor:
        """The phase ``N×3×H×(W//2+1)`` → ``z``, ``N×3×H×W`` in the decorrelated basis, before the
        value mapping: ``rfft2(z, norm="ortho").abs()`` is ``M``."""
        expected = (3, size[0], size[1] // 2 + 1)
        if variable.ndim != 4 or tuple(variable.shape[1:]) != expected:
            raise ValueError(f"a phase for {size[0]}×{size[1]} images is N×{'×'.join(map(str, expected))}, got {tuple(variable.shape)}")
        magnitude, zero_phase, columns = self.template(size, variable)
        phase = hermitian_phase(variable.float(), columns) + zero_phase
        spectrum = torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))
        return torch.fft.irfft2(spectrum, s=size, norm="ortho")

    def decode(self, variable: Tensor, size: tuple[int, int]) -> Tensor:
        z = self.spatial(variable, size)
        return torch.sigmoid(torch.einsum("ij,njhw->nihw", self._basis_on(z), z))

    def encode(self, images: Tensor) -> Tensor:
        logits = torch.logit(images.detach().float().clamp(EPS, 1 - EPS))
        z = torch.einsum("ij,njhw->nihw", torch.linalg.inv(self.basis).to(logits), logits)
        return torch.angle(torch.fft.rfft2(z, norm="ortho")).contiguous()
