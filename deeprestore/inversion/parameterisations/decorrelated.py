"""Lucent's image parameterisation: a Fourier basis and/or decorrelated colour, through a sigmoid
(Olah et al., Distill 2017; Lucent ``param.image(…, fft=True, decorrelate=True)``, ``to_valid_rgb``)::

    x = σ( M · spatial(v) )        σ the logistic function, M the colour basis (or the identity)

``spatial`` is the 1/f Fourier basis of :mod:`.fourier` or the identity (pixels). The sigmoid keeps
every decoded image inside ``[0, 1]``; :meth:`DecorrelatedImage.encode` inverts it on images clamped to
``[ε, 1 − ε]`` (``ε = 1e-4``), so ``decode(encode(x)) = x`` for images inside that range.
"""

from __future__ import annotations

import torch
from torch import Tensor

from deeprestore.inversion.parameterisations.base import Parameterisation
from deeprestore.inversion.parameterisations.colour import IMAGENET_COLOUR_SQRT, normalised_basis
from deeprestore.inversion.parameterisations.fourier import image_to_spectrum, spectrum_to_image

__all__ = ["EPS", "DecorrelatedImage"]

#: images are clamped to ``[EPS, 1 − EPS]`` before the inverse sigmoid
EPS = 1e-4


class DecorrelatedImage(Parameterisation):
    """``x = σ(M · spatial(v))``.

    Args:
        fourier: use the 1/f Fourier basis (else the variable is per-pixel).
        colour: decorrelate colour with a ``3×3`` basis: ``True`` for ImageNet's
            (:data:`~.colour.IMAGENET_COLOUR_SQRT`, normalised), a tensor for another (e.g.
            :func:`~.colour.colour_basis_from_images`), ``False`` for none.
        decay: the Fourier scale's exponent (Lucent: 1).
    """

    def __init__(self, fourier: bool = True, colour: bool | Tensor = True, decay: float = 1.0) -> None:
        self.fourier, self.decay = fourier, float(decay)
        if colour is True:
            self.basis: Tensor | None = normalised_basis(torch.tensor(IMAGENET_COLOUR_SQRT))
        elif colour is False or colour is None:
            self.basis = None
        else:
            if tuple(colour.shape) != (3, 3):
                raise ValueError(f"a colour basis is 3×3, got {tuple(colour.shape)}")
            self.basis = colour.detach().float()
        parts = [p for p, on in (("fourier", fourier), ("colour", self.basis is not None)) if on]
        self.name = "+".join(parts) or "sigmoid-pixels"

    def _mix(self, images: Tensor, matrix: Tensor) -> Tensor:
        return torch.einsum("ij,njhw->nihw", matrix.to(images), images)

    def decode(self, variable: Tensor, size: tuple[int, int]) -> Tensor:
        x = spectrum_to_image(variable, size, self.decay) if self.fourier else variable
        if self.basis is not None:
            x = self._mix(x, self.basis)
        return torch.sigmoid(x)

    def encode(self, images: Tensor) -> Tensor:
        x = torch.logit(images.detach().float().clamp(EPS, 1 - EPS))
        if self.basis is not None:
            x = self._mix(x, torch.linalg.inv(self.basis))
        return image_to_spectrum(x, self.decay) if self.fourier else x.contiguous()
