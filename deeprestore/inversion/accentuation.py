"""Feature accentuation (Hamblin, Fel, Saha, Konkle & Alvarez, "Feature Accentuation: Revealing
'What' Features Respond to in Natural Images", 2024): activation maximisation seeded with a photo
and held near it, which shows what in *that* photo a unit responds to::

    x* = argmin_x  −C · a(Φ(x)) / ρ  +  λ · ‖ψ(x) − ψ(x₀)‖² / ‖ψ(x₀)‖²       from x = x₀

``a`` is the unit's activation (a neuron, a channel's mean or a class logit, as
:func:`~deeprestore.inversion.visualisations.maximise_activation`), ``ρ`` the layer's
root-mean-square activation at the photo ``x₀``, and ``ψ`` where the distance to the photo is
measured (:class:`SeedDistance`):

* ``reg_layer=None`` (the default): the pixels, ``ψ(x) = x`` — the regulariser of the authors'
  code in the Horama library (``(img − seed)²`` averaged, weight ``penalty = 1``);
* ``reg_layer="block3"`` etc.: the network's features at that layer — the paper's formulation,
  which measures the distance to the seed in an intermediate layer's latent space rather than in
  pixels.

The distance is relative (divided by ``‖ψ(x₀)‖²``), so one ``λ`` serves pixels and any layer. The
optimisation is the ``accentuation`` preset's (:mod:`deeprestore.inversion.presets.accentuation`:
Fourier + decorrelated-colour variable, MACO's random boxes and noise, NAdam) on the engine, started
at the photo; its jitter, if any, is switched off (the distance compares the image with the photo
pixel for pixel).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import Tensor

from deeprestore.inversion.engine import InversionResult, Phase
from deeprestore.inversion.invert import input_images, layer_stride
from deeprestore.inversion.presets import Preset, get_preset
from deeprestore.inversion.presets.accentuation import ACCENTUATION_PENALTY
from deeprestore.inversion.seeds import image_seeds
from deeprestore.inversion.visualisations import _visualise, unit_activation
from deeprestore.nets.feature_network import FeatureNetwork
from deeprestore.priors.base import ImagePrior

__all__ = ["SeedDistance", "accentuate"]


class SeedDistance(ImagePrior):
    """``‖ψ(x) − ψ(x₀)‖² / ‖ψ(x₀)‖²`` per image: the relative squared distance to the seed images
    ``x₀`` (``N×3×H×W``, the batch the prior will see), in pixels or at ``layer`` of ``net``.

    Raises:
        ValueError: a layer without a network, or an unknown layer.
    """

    def __init__(self, seeds: Tensor, net: FeatureNetwork | None = None, layer: str | None = None) -> None:
        super().__init__()
        if layer is not None and net is None:
            raise ValueError("a distance at a layer needs the network")
        self._net, self.layer = (net,), layer if layer is None else net.check_layer(layer)  # a tuple: not a submodule
        with torch.no_grad():
            self.target = self._embed(seeds.detach()).detach()
        self.norm = self.target.pow(2).sum(1).clamp_min(1e-12)

    def _embed(self, images: Tensor) -> Tensor:
        if self.layer is None:
            return images.float().flatten(1)
        return self._net[0].features(images, self.layer)[self.layer].float().flatten(1)

    def forward(self, images: Tensor) -> Tensor:
        return (self._embed(images) - self.target).pow(2).sum(1) / self.norm

    @property
    def name(self) -> str:
        return f"seed-distance({self.layer or 'pixels'})"


def _budgeted(phases: Sequence[Phase], steps: int) -> list[Phase]:
    """``phases`` with ``steps`` iterations in all, shared in proportion (0: none run), without jitter."""
    total = max(sum(p.iterations for p in phases), 1)
    bounds = [round(steps * sum(p.iterations for p in phases[: k + 1]) / total) for k in range(len(phases))]
    counts = [b - a for a, b in zip([0, *bounds[:-1]], bounds)]
    return [replace(p, iterations=c, jitter=1) for p, c in zip(phases, counts)]


def accentuate(
    net: FeatureNetwork,
    layer: str,
    unit: Sequence[int] | int,
    photo: Tensor,
    kind: str = "channel",
    *,
    preset: str | Preset = "accentuation",
    penalty: float = ACCENTUATION_PENALTY,
    reg_layer: str | None = None,
    weight: float = 1.0,
    steps: int | None = None,
    iterations_scale: float = 1.0,
    seed: int = 0,
    progress: bool = True,
    attribution: bool = False,
) -> InversionResult:
    """Accentuate one unit at ``layer`` in each photo (``N×3×H×W`` in [0, 1]): see the module docstring.

    Args:
        unit, kind: the unit, as :func:`~deeprestore.inversion.visualisations.unit_activation`.
        preset: the optimisation (default ``accentuation``); it starts at the photo.
        penalty: ``λ``, the weight of the distance to the photo (0: plain photo-seeded maximisation).
        reg_layer: where the distance is measured: ``None`` for pixels, else a layer of ``net``.
        weight: ``C``, the weight of the activation.
        steps: iterations in all (``0``: the photo itself); ``None``: the preset's, times ``iterations_scale``.
        attribution: also sum ``|∂E/∂x|`` over the iterations (:attr:`InversionResult.attribution`).

    Raises:
        ValueError: photos that are not ``N×3×H×W`` floats in [0, 1], an unknown layer or unit, a
            negative ``penalty`` or ``steps``, a non-positive ``iterations_scale``.
    """
    preset = get_preset(preset) if isinstance(preset, str) else preset
    photo = input_images(net, photo)
    net.check_layer(layer)
    if penalty < 0:
        raise ValueError(f"penalty must be non-negative, got {penalty}")
    if steps is not None and steps < 0:
        raise ValueError(f"steps must be a non-negative number of iterations, got {steps}")
    if iterations_scale <= 0:
        raise ValueError(f"iterations_scale must be positive, got {iterations_scale}")
    with torch.no_grad():
        features = net.features(photo, layer)[layer].float()
    unit_activation(features, kind, unit)  # validate the unit early
    ref = features.flatten(1).pow(2).mean(1).sqrt().clamp_min(1e-8)
    distance = SeedDistance(photo, net, reg_layer)

    def data(images: Tensor) -> Tensor:
        return -weight * unit_activation(net.features(images, layer)[layer].float(), kind, unit) / ref

    def phases(stride: float | None) -> list[Phase]:
        ran = preset.phases(stride)[: preset.visualisation_phases]
        return _budgeted(ran, steps if steps is not None else sum(p.scaled(iterations_scale).iterations for p in ran))

    seeded = replace(
        preset,
        phases=phases,
        visualisation_phases=None,
        priors=lambda stride, network: [*preset.priors(stride, network), (distance, penalty)],
    )
    stride = layer_stride(net, layer, (photo.shape[-2], photo.shape[-1]))
    seeds = image_seeds(photo, seed)
    return _visualise(net, data, photo, seeds, seeded, stride, 1.0, seed, progress, f"accentuate {layer}[{unit}]", attribution)
