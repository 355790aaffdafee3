"""Activation maximisation and caricaturisation on the same engine (Mahendran & Vedaldi 2016, §3).

Both replace the inversion's data term and keep the rest (priors, bound, jitter, optimiser):

* **activation maximisation** — find a natural-looking image that excites one unit:
  ``E_data(x) = −C · a(Φ(x)) / ρ``, with ``a`` a neuron ``(c, y, x)``, the mean of channel ``c``,
  or class ``k``'s logit, and ``ρ`` the root-mean-square activation of the layer at the starting
  image (our choice, so that one ``C`` works at every layer);
* **caricaturisation** — exaggerate what a layer detects in an image, starting from the image:
  ``E_data(x) = −C · ⟨Φ(x), Φ0⟩ / ‖Φ0‖²``.

As in the authors' code, an M&V preset runs its first (jittered) phase only; the newer presets
(``deepinversion``, ``lucent``, ``plugin``, ``maco``) run all their phases, and their random
translations and crops keep the authors' amounts (a unit's activation, unlike a feature map, does
not need the image in place). With ``attribution=True`` the result also holds MACO's attribution
map, the absolute gradient of the energy with respect to the image summed over the iterations
(:attr:`~deeprestore.inversion.engine.InversionResult.attribution`). Feature accentuation, a unit
maximised from a photo and held near it, is :func:`~deeprestore.inversion.accentuation.accentuate`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import torch
from torch import Tensor

from deeprestore.inversion.engine import InversionResult
from deeprestore.inversion.invert import input_images, layer_stride, run_preset, with_network_priors
from deeprestore.inversion.objectives import gram_diversity
from deeprestore.inversion.parameterisations import get_parameterisation
from deeprestore.inversion.presets import Preset, get_preset
from deeprestore.inversion.seeds import image_seeds, index_seeds
from deeprestore.inversion.starts import initial_images
from deeprestore.nets.feature_network import FeatureNetwork

UNIT_KINDS = ("neuron", "channel", "class")


def unit_activation(features: Tensor, kind: str, unit: Sequence[int] | int) -> Tensor:
    """Per-image activation ``(N,)`` of a unit of ``features`` (``N×C×H×W`` or ``N×D``).

    ``kind="neuron"``: ``unit = (c, y, x)`` (or ``(d,)`` for a vector layer); ``"channel"``:
    ``unit = c``, the channel's spatial mean; ``"class"``: ``unit = k``, entry ``k`` of a vector.
    """
    if kind not in UNIT_KINDS:
        raise ValueError(f"kind must be one of {UNIT_KINDS}, got {kind!r}")
    index = (unit,) if isinstance(unit, int) else tuple(unit)
    if kind == "neuron":
        return features[(slice(None),) + index]
    if kind == "channel":
        if features.ndim != 4:
            raise ValueError("channel maximisation needs a map-shaped layer (N×C×H×W)")
        return features[:, index[0]].mean(dim=(-2, -1))
    if features.ndim != 2:
        raise ValueError("class maximisation needs a vector layer such as the logits")
    return features[:, index[0]]


def maximise_activation(
    net: FeatureNetwork,
    layer: str,
    unit: Sequence[int] | int,
    kind: str = "channel",
    *,
    num_images: int = 1,
    size: tuple[int, int] = (128, 128),
    preset: str | Preset = "mv2016",
    weight: float = 1.0,
    diversity: float = 0.0,
    diversity_layer: str | None = None,
    iterations_scale: float = 1.0,
    seed: int = 0,
    progress: bool = True,
    attribution: bool = False,
) -> InversionResult:
    """``num_images`` images (different random starts) that maximise one unit at ``layer``.

    Start ``i`` is drawn from the stream ``(seed, i)`` (:func:`~deeprestore.inversion.seeds.index_seeds`);
    ``diversity`` > 0 makes the images differ (Lucid's diversity objective, see :func:`maximise_units`);
    ``attribution`` also sums ``|∂E/∂x|`` over the iterations (MACO's attribution map).

    Raises:
        ValueError: ``num_images`` < 1, a size smaller than 1×1, an unknown layer or unit.
    """
    if num_images < 1:
        raise ValueError(f"num_images must be positive, got {num_images}")
    return maximise_units(
        net,
        layer,
        [unit] * num_images,
        kind,
        size=size,
        preset=preset,
        weight=weight,
        diversity=diversity,
        diversity_layer=diversity_layer,
        iterations_scale=iterations_scale,
        seed=seed,
        progress=progress,
        attribution=attribution,
        description=f"maximise {layer}[{unit}]",
    )


def maximise_units(
    net: FeatureNetwork,
    layer: str,
    units: Sequence[Sequence[int] | int],
    kind: str = "channel",
    *,
    size: tuple[int, int] = (128, 128),
    preset: str | Preset = "mv2016",
    weight: float = 1.0,
    diversity: float = 0.0,
    diversity_layer: str | None = None,
    iterations_scale: float = 1.0,
    seed: int = 0,
    progress: bool = True,
    attribution: bool = False,
    description: str | None = None,
) -> InversionResult:
    """One image per unit, in one run: image ``i`` maximises ``units[i]`` at ``layer`` (Lucid's
    batched objectives: every channel of a layer, or several classes, as one batch).

    The energy of image ``i`` is ``−weight · a_i(Φ(x_i)) / ρ_i − diversity · d_i`` with ``ρ_i`` the
    RMS activation of the layer at its start and ``d_i`` its Gram diversity at ``diversity_layer``
    (default ``layer``; :func:`~deeprestore.inversion.objectives.gram_diversity`, Olah et al. 2017
    §"Diversity"), which couples the images: with ``diversity = 0`` each image is its own problem.

    Raises:
        ValueError: no units, a size smaller than 1×1, an unknown layer or unit, a negative
            ``diversity``, or a diversity layer that is not map-shaped.
    """
    preset = get_preset(preset) if isinstance(preset, str) else preset
    net.check_layer(layer)
    units = list(units)
    if not units:
        raise ValueError("units is empty: give at least one unit")
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size must be (height, width) with positive sides, got {size}")
    if iterations_scale <= 0:
        raise ValueError(f"iterations_scale must be positive, got {iterations_scale}")
    if diversity < 0:
        raise ValueError(f"diversity must be 0 (none) or positive, got {diversity}")
    spread = net.check_layer(diversity_layer or layer)
    layers = list(dict.fromkeys([layer, spread])) if diversity else [layer]
    seeds = index_seeds(len(units), seed)
    start = initial_images(preset.start, (len(units), 3, *size), seeds, net, get_parameterisation(preset.parameterisation, net))
    with torch.no_grad():
        first = net.features(start, layers)
        ref = first[layer].float().flatten(1).pow(2).mean(1).sqrt().clamp_min(1e-8)
        unit_activations(first[layer], kind, units)  # validate the units early
        if diversity and first[spread].ndim != 4:
            raise ValueError(f"the diversity layer {spread!r} is a vector; give a map-shaped diversity_layer (N×C×H×W)")

    def data(images: Tensor) -> Tensor:
        feats = net.features(images, layers)
        value = -weight * unit_activations(feats[layer].float(), kind, units) / ref
        return value - diversity * gram_diversity(feats[spread]) if diversity else value

    stride = layer_stride(net, layer, size)
    description = description or f"maximise {len(units)} units of {layer}"
    return _visualise(net, data, start, seeds, preset, stride, iterations_scale, seed, progress, description, attribution)


def unit_activations(features: Tensor, kind: str, units: Sequence[Sequence[int] | int]) -> Tensor:
    """``(N,)``: row ``i``'s activation of ``units[i]`` (:func:`unit_activation` per row)."""
    if len(units) != len(features):
        raise ValueError(f"need one unit per image: {len(features)} images, {len(units)} units")
    if all(u == units[0] for u in units):
        return unit_activation(features, kind, units[0])
    return torch.cat([unit_activation(features[i : i + 1], kind, u) for i, u in enumerate(units)])


def caricature(
    net: FeatureNetwork,
    images: Tensor,
    layer: str,
    *,
    preset: str | Preset = "mv2016",
    weight: float | None = None,
    iterations_scale: float = 1.0,
    seed: int = 0,
    progress: bool = True,
    attribution: bool = False,
) -> InversionResult:
    """Caricatures of ``images`` (``N×3×H×W`` in [0, 1]) at ``layer``, starting from the images.

    ``weight`` is ``C`` (default: the preset's ``C`` for the layer's stride, as for inversion);
    ``attribution`` also sums ``|∂E/∂x|`` over the iterations. With the ``maco`` preset the start
    keeps only the images' phase (the phase variable's magnitude is the photos' mean).

    Raises:
        ValueError: images that are not ``N×3×H×W`` floats in [0, 1] (``N ≥ 1``), an unknown layer.
    """
    preset = get_preset(preset) if isinstance(preset, str) else preset
    images = input_images(net, images)
    net.check_layer(layer)
    if iterations_scale <= 0:
        raise ValueError(f"iterations_scale must be positive, got {iterations_scale}")
    with torch.no_grad():
        target = net.features(images, layer)[layer].float().flatten(1)
    norm = target.pow(2).sum(1).clamp_min(1e-12)
    stride = layer_stride(net, layer, (images.shape[-2], images.shape[-1]))
    weight = preset.data_weight(stride, net.name) if weight is None else weight

    def data(x: Tensor) -> Tensor:
        return -weight * (net.features(x, layer)[layer].float().flatten(1) * target).sum(1) / norm

    seeds = image_seeds(images, seed)
    return _visualise(net, data, images, seeds, preset, stride, iterations_scale, seed, progress, f"caricature {layer}", attribution)


def _visualise(
    net: FeatureNetwork,
    data: Callable[[Tensor], Tensor],
    start: Tensor,
    seeds: Sequence[int],
    preset: Preset,
    stride: float | None,
    scale: float,
    seed: int,
    progress: bool,
    description: str,
    attribution: bool = False,
) -> InversionResult:
    """Run ``preset`` on ``data`` from ``start``: an M&V preset's first phase, or all a newer preset's,
    with the translations of activation maximisation (the authors' amounts)."""
    phases = (lambda s: preset.phases(s)[: preset.visualisation_phases]) if preset.visualisation_phases else preset.phases
    visualising = replace(preset, phases=phases, transforms=lambda s: preset.transforms(None))
    return run_preset(
        net,
        visualising,
        with_network_priors(net, preset, data),
        stride,
        start.shape,
        seeds,
        init=start,
        iterations_scale=scale,
        seed=seed,
        progress=progress,
        description=description,
        attribution=attribution,
    )
