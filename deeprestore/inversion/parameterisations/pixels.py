"""The image itself as the variable, in some units.

* :class:`MVPixels` — Mahendran & Vedaldi's units (0–255 scale, mean colour subtracted;
  :mod:`deeprestore.priors.units`): the variable of every M&V preset, so the authors' step sizes
  apply unchanged;
* :class:`ScaledPixels` — ``(x − offset) / scale`` per channel: ``[0, 1]`` pixels (Plug-In
  Inversion's variable, ``unit-pixels``) or the network's normalised input (DeepInversion's,
  ``input-pixels``), so those authors' Adam step sizes keep their meaning too.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from deeprestore.constant_tensors import ConstantTensor
from deeprestore.inversion.parameterisations.base import Parameterisation
from deeprestore.priors.units import IMAGENET_MEAN_255, from_mv_units, mean_colour, to_mv_units

__all__ = ["MVPixels", "ScaledPixels"]


class MVPixels(Parameterisation):
    """Variable = ``255·x − mean colour`` (``N×3×H×W``; the ImageNet mean colour of
    :data:`~deeprestore.priors.units.IMAGENET_MEAN_255`)."""

    name = "pixels"

    def __init__(self) -> None:
        self.mean = mean_colour(IMAGENET_MEAN_255)

    def encode(self, images: Tensor) -> Tensor:
        return to_mv_units(images.detach().float(), self.mean)

    def decode(self, variable: Tensor, size: tuple[int, int]) -> Tensor:
        return from_mv_units(variable, self.mean)


class ScaledPixels(Parameterisation):
    """Variable = ``(x − offset_c) / scale_c`` (``N×3×H×W``).

    Args:
        offset, scale: one value per channel (or one for all).
        name: what to call it.
    """

    def __init__(self, offset: float | Sequence[float] = 0.0, scale: float | Sequence[float] = 1.0, name: str = "unit-pixels") -> None:
        as3 = lambda v: tuple(float(x) for x in v) if isinstance(v, Sequence) else (float(v),) * 3  # noqa: E731
        self.offset, self.scale, self.name = as3(offset), as3(scale), name
        if any(s <= 0 for s in self.scale):
            raise ValueError(f"scales must be positive, got {self.scale}")
        self._offset, self._scale = ConstantTensor(self.offset, (1, 3, 1, 1)), ConstantTensor(self.scale, (1, 3, 1, 1))

    def encode(self, images: Tensor) -> Tensor:
        x = images.detach().float()
        return ((x - self._offset.like(x)) / self._scale.like(x)).contiguous()

    def decode(self, variable: Tensor, size: tuple[int, int]) -> Tensor:
        return variable * self._scale.like(variable) + self._offset.like(variable)
