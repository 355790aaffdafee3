"""Where an optimisation starts: each preset's initial images, drawn per image.

Image ``i`` is drawn from its own generator seeded with ``seeds[i]`` (see
:mod:`deeprestore.inversion.seeds`), so its start does not depend on the rest of the batch.
Every start returns ``N×3×H×W`` images in library units on ``device``.

* ``mv-noise`` — M&V 2016: uniform noise in [−1, 1], divided by its 95th percentile of |·| and
  scaled to B/√3 in M&V units (:func:`mv_noise`);
* ``uniform`` — ``U[0, 1]`` pixels (Plug-In Inversion's ``torch.rand``);
* ``input-normal`` — ``N(0, 1)`` in the network's normalised input units, i.e. ``mean + std·z``
  (DeepInversion's ``torch.randn`` on the normalised image);
* ``variable-normal`` — the decoded image of ``0.01·N(0, 1)`` in the parameterisation's variable
  (Lucent's ``sd = 0.01``: a near-grey image with faint 1/f noise for its Fourier basis);
* ``random-phase`` — the decoded image of a phase uniform in ``[−π, π)`` at every frequency, for
  the phase-only parameterisation (MACO's random phase; Horama draws ``N(0, 1)`` radians instead).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from deeprestore.inversion.parameterisations import Parameterisation, PhaseImage
from deeprestore.nets.feature_network import FeatureNetwork
from deeprestore.priors.units import B, from_mv_units

__all__ = ["STARTS", "initial_images", "mv_noise"]

#: the start names :func:`initial_images` knows
STARTS = ("mv-noise", "uniform", "input-normal", "variable-normal", "random-phase")
#: Lucent's initial standard deviation of the variable
VARIABLE_SD = 0.01


def _per_image(draw, seeds: Sequence[int]) -> Tensor:
    return torch.stack([draw(torch.Generator().manual_seed(int(s))) for s in seeds])


def mv_noise(shape: Sequence[int], seeds: Sequence[int], device: torch.device | str = "cpu") -> Tensor:
    """M&V 2016's start (see the module docstring); ``shape`` is ``N×3×H×W``."""
    if len(seeds) != shape[0]:
        raise ValueError(f"need one seed per image: {shape[0]} images, {len(seeds)} seeds")
    noise = _per_image(lambda g: torch.rand(tuple(shape[1:]), generator=g), seeds) * 2 - 1
    scale = noise.abs().flatten(1).quantile(0.95, dim=1).view(-1, 1, 1, 1)
    return from_mv_units(noise / scale * (B / 3**0.5)).to(device)


def initial_images(
    start: str, shape: Sequence[int], seeds: Sequence[int], net: FeatureNetwork, parameterisation: Parameterisation
) -> Tensor:
    """The ``start`` images (``N×3×H×W``, library units, on the network's device).

    Raises:
        ValueError: an unknown start, not one seed per image, or ``random-phase`` without the phase
            parameterisation.
    """
    if len(seeds) != shape[0]:
        raise ValueError(f"need one seed per image: {shape[0]} images, {len(seeds)} seeds")
    device = net.mean.device
    size = tuple(shape[1:])
    if start == "mv-noise":
        return mv_noise(shape, seeds, device)
    if start == "uniform":
        return _per_image(lambda g: torch.rand(size, generator=g), seeds).to(device)
    if start == "input-normal":
        z = _per_image(lambda g: torch.randn(size, generator=g), seeds).to(device)
        return net.mean + net.std * z
    if start == "variable-normal":
        like = parameterisation.encode(torch.full((1, *size), 0.5))
        z = _per_image(lambda g: torch.randn(like.shape[1:], generator=g), seeds)
        return parameterisation.decode(VARIABLE_SD * z, (shape[2], shape[3])).to(device)
    if start == "random-phase":
        if not isinstance(parameterisation, PhaseImage):
            raise ValueError(f"the random-phase start needs the phase parameterisation, got {parameterisation.name}")
        like = parameterisation.encode(torch.full((1, *size), 0.5))
        phase = _per_image(lambda g: (2 * torch.rand(like.shape[1:], generator=g) - 1) * math.pi, seeds)
        return parameterisation.decode(phase, (shape[2], shape[3])).to(device)
    raise ValueError(f"unknown start {start!r}; choose from {', '.join(STARTS)}")
