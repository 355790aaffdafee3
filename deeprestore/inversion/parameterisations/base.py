"""What the engine optimises: a variable that decodes to the image (Olah et al., Distill 2017,
"Feature Visualization", §"The enemy of feature visualization": preconditioning by a change of
parameterisation).

A :class:`Parameterisation` maps images ``N×3×H×W`` (library units, ``[0, 1]``) to the variable and
back. The engine keeps the variable, decodes it at every step, and applies the data term, the
priors, the jitter and the transforms to the decoded image; a prior's hard constraint is applied
to the decoded image and encoded back, so ``decode(encode(x)) = x`` must hold for the images the
constraint returns. A parameterisation for which it does not (:class:`~.phase.PhaseImage`, which
keeps only an image's phase) says so with :attr:`Parameterisation.lossless` ``= False``; the engine
refuses it together with a projecting prior.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor

__all__ = ["Parameterisation"]


class Parameterisation(ABC):
    """An invertible map between images and the optimisation variable."""

    #: short name (``pixels``, ``fourier+colour`` …)
    name: str = "parameterisation"
    #: whether ``decode(encode(x)) = x`` (false: encoding discards part of the image)
    lossless: bool = True

    @abstractmethod
    def encode(self, images: Tensor) -> Tensor:
        """``N×3×H×W`` images → the variable (a new tensor)."""

    @abstractmethod
    def decode(self, variable: Tensor, size: tuple[int, int]) -> Tensor:
        """The variable → ``N×3×H×W`` images of ``size = (H, W)`` (differentiable)."""
