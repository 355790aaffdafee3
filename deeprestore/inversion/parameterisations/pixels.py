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

from deeprestore.inversion.parameterisations.base import Parameterisation
from deeprestore.priors.units import from_mv_units, to_mv_units

__all__ = ["MVPixels", "ScaledPixels"]


class MVPixels(Parameterisation):
    """Variable = ``255·x − mean colour`` (``N×3×H×W``)."""

    name = "pixels"

    def encode(self, images: Tensor) -> Tensor:
        return to_mv_units(images.detach().float())

    def decode(self, variable: Tensor, size: tuple[int, int]) -> Tensor:
        return from_mv_units(variable)


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

    def _view(self, values: tuple[float, ...], like: Tensor) -> Tensor:
        return like.new_tensor(values).view(1, 3, 1, 1)

    def encode(self, images: Tensor) -> Tensor:
        x = images.detach().float()
        return ((x - self._view(self.offset, x)) / self._view(self.scale, x)).contiguous()

    def decode(self, variable: Tensor, size: tuple[int, int]) -> Tensor:
        return variable * self._view(self.scale, variable) + self._view(self.offset, variable)
