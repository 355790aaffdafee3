"""Invert a network's representation of a batch of images with a preset: the one-call API.

Example::

    from deeprestore.nets import load_network
    from deeprestore.inversion import invert
    net = load_network("efficientnet_lite0")
    result = invert(net, images, layers=["block3"], preset="mv2016")
    result.images        # N×3×H×W reconstructions
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import torch
from torch import Tensor

from deeprestore.image_checks import check_images
from deeprestore.inversion.calibration_table import calibrated_setting
from deeprestore.inversion.engine import InversionResult, minimise
from deeprestore.inversion.execution import Execution
from deeprestore.inversion.feature_loss import NormalisedFeatureLoss
from deeprestore.inversion.network_priors import WithBatchNormPrior
from deeprestore.inversion.optimizers import stepper_factory
from deeprestore.inversion.parameterisations import get_parameterisation
from deeprestore.inversion.presets import Preset, get_preset, with_fading_priors
from deeprestore.inversion.seeds import image_seeds
from deeprestore.inversion.starts import initial_images
from deeprestore.nets.feature_network import FeatureNetwork
from deeprestore.priors.batchnorm_statistics import BatchNormStatistics


def input_images(net: FeatureNetwork, images: Tensor) -> Tensor:
    """``images`` checked (``N×3×H×W`` float in [0, 1]; see :func:`~deeprestore.image_checks.check_images`)
    and converted to the network's dtype and device: float64 and half inputs are supported that way."""
    check_images(images)
    return images.to(device=net.mean.device, dtype=net.mean.dtype)


def layer_stride(net: FeatureNetwork, layer: str, size: tuple[int, int]) -> float | None:
    """Stride of ``layer`` for an input of ``size`` (``None`` for vector layers)."""
    shape = net.output_shape(layer, size)
    return size[0] / shape[-2] if len(shape) == 3 else None


def invert(
    net: FeatureNetwork,
    images: Tensor,
    layers: Sequence[str],
    preset: str | Preset = "mv2016",
    *,
    layer_weights: dict[str, float] | None = None,
    init: Tensor | None = None,
    iterations_scale: float = 1.0,
    seed: int = 0,
    progress: bool = True,
    execution: Execution | None = None,
    snapshot_every: int = 0,
) -> InversionResult:
    """Reconstruct ``images`` (``N×3×H×W`` in [0, 1]) from their features at ``layers``.

    Each image is its own problem: its starting noise comes from a stream keyed on its pixels and
    ``seed`` (:func:`~deeprestore.inversion.seeds.image_seeds`) and the jitter from ``seed``, so an
    image's reconstruction does not depend on the batch it is in.

    Args:
        net: the frozen network.
        images: the images whose representation is inverted (only their features are used); any
            float dtype (computed in the network's), values in [0, 1].
        layers: one or several target layers.
        preset: a preset name or object.
        layer_weights: ``C`` per layer (default: the preset's C for each layer's stride and the network).
        init: starting images ``N×3×H×W`` (default: the preset's noise, seeded per image).
        iterations_scale: multiplies every phase's iterations (quick runs, benchmarks).
        seed: seed of the initial noise and the jitter.
        execution: how the network pass runs (channels-last, bf16, compiled; default
            :class:`~deeprestore.inversion.execution.Execution` ()). A preset with the BN
            statistics prior runs eager and unfolded: its hooks need the batch-norm layers.
        snapshot_every: keep the images every this many iterations (:attr:`InversionResult.snapshots`).

    Raises:
        ValueError: images that are not ``N×3×H×W`` floats in [0, 1] (with ``N ≥ 1``), an
            ``init`` of another shape, no or unknown layers, a non-positive ``iterations_scale``,
            ``compile=True`` or ``fold_batchnorm=True`` with a preset that has the BN statistics prior.
    """
    preset = get_preset(preset) if isinstance(preset, str) else preset
    images = input_images(net, images)
    if not layers or isinstance(layers, str):
        raise ValueError(f"layers must be a non-empty list of layer names, got {layers!r}")
    if init is not None and tuple(init.shape) != tuple(images.shape):
        raise ValueError(f"init must have the shape of the images {tuple(images.shape)}, got {tuple(init.shape)}")
    with torch.no_grad():
        targets = net.features(images, list(layers))
    return invert_features(
        net,
        targets,
        (images.shape[-2], images.shape[-1]),
        preset,
        layer_weights=layer_weights,
        init=init,
        iterations_scale=iterations_scale,
        seed=seed,
        seeds=image_seeds(images, seed),
        progress=progress,
        execution=execution,
        snapshot_every=snapshot_every,
    )


def invert_features(
    net: FeatureNetwork,
    targets: Mapping[str, Tensor],
    size: tuple[int, int],
    preset: str | Preset = "mv2016",
    *,
    layer_weights: dict[str, float] | None = None,
    init: Tensor | None = None,
    iterations_scale: float = 1.0,
    seed: int = 0,
    seeds: Sequence[int] | None = None,
    progress: bool = True,
    execution: Execution | None = None,
    snapshot_every: int = 0,
) -> InversionResult:
    """Images of ``size`` whose features at the layers of ``targets`` match ``targets`` — features that
    need not come from an image (a generative model's samples of a layer's maps); :func:`invert` is
    this with an image's own features.

    Args:
        targets: ``layer → N×C×h×w`` (or ``N×D``) target features, the layers' shapes for an image of ``size``.
        size: ``(H, W)`` of the images to make.
        seeds: one start seed per row (default: from the first layer's target features and ``seed``).
        Others: as :func:`invert`.

    Raises:
        ValueError: no or unknown layers, targets of another shape than the layer's at ``size`` or of
            different batch sizes, a non-positive ``iterations_scale``, and as :func:`invert`.
    """
    preset = get_preset(preset) if isinstance(preset, str) else preset
    layers = list(targets)
    if not layers:
        raise ValueError("targets must name at least one layer")
    rows = {int(t.shape[0]) for t in targets.values()}
    if len(rows) != 1:
        raise ValueError(f"every layer's targets need the same batch size, got {sorted(rows)}")
    for layer, target in targets.items():
        expected = tuple(net.output_shape(net.check_layer(layer), size))
        if tuple(target.shape[1:]) != expected:
            raise ValueError(f"targets at {layer} have shape {tuple(target.shape[1:])}; an image of {size[0]}×{size[1]} gives {expected}")
    if iterations_scale <= 0:
        raise ValueError(f"iterations_scale must be positive, got {iterations_scale}")
    shape = (rows.pop(), 3, *size)
    if init is not None and tuple(init.shape) != shape:
        raise ValueError(f"init must have the shape {shape}, got {tuple(init.shape)}")
    setting = calibrated_setting(net.name, layers[0]) if preset.calibrated and len(layers) == 1 else None
    if setting is not None:  # the layer's calibrated C, prior fade and budget (docs/calibration.md)
        preset = with_fading_priors(preset, setting.prior_final, name=preset.name)
        layer_weights = layer_weights or {layers[0]: setting.data_weight}
        iterations_scale *= setting.iterations_scale
    strides = {layer: layer_stride(net, layer, size) for layer in layers}
    deepest = max(layers, key=net.index)
    weights = layer_weights or {layer: preset.data_weight(strides[layer], net.name) for layer in layers}
    run_to = net.logits_layer if preset.batchnorm_weight and preset.batchnorm_past_target else None
    moved = {layer: targets[layer].to(device=net.mean.device) for layer in weights}
    data = NormalisedFeatureLoss(net, weights, moved, run_to, eager_with_hooks(preset, execution))
    return run_preset(
        net,
        preset,
        with_network_priors(net, preset, data),
        strides[deepest],
        shape,
        seeds if seeds is not None else image_seeds(targets[layers[0]], seed),
        init=init,
        iterations_scale=iterations_scale,
        seed=seed,
        progress=progress,
        description=f"{preset.name} {'+'.join(layers)}",
        snapshot_every=snapshot_every,
    )


def eager_with_hooks(preset: Preset, execution: Execution | None) -> Execution | None:
    """``execution``, made eager and unfolded for a preset whose BN statistics prior hooks the
    network's batch-norm layers (a compiled or folded pass would not run the hooks)."""
    if not preset.batchnorm_weight:
        return execution
    execution = execution or Execution()
    if execution.compile is True or execution.fold_batchnorm is True:
        raise ValueError(
            f"compile and fold_batchnorm cannot be true for preset {preset.name!r}: its batch-norm statistics prior "
            "hooks the network's batch-norm layers; use false or auto"
        )
    return replace(execution, compile=False, fold_batchnorm=False)


def with_network_priors(net: FeatureNetwork, preset: Preset, data: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """``data`` plus the preset's BN statistics prior, read from the pass ``data`` runs (if it has one)."""
    if not preset.batchnorm_weight:
        return data
    return WithBatchNormPrior(data, BatchNormStatistics(net), preset.batchnorm_weight)


def run_preset(
    net: FeatureNetwork,
    preset: Preset,
    data: Callable[[Tensor], Tensor],
    stride: float | None,
    shape: Sequence[int],
    seeds: Sequence[int],
    *,
    init: Tensor | None = None,
    iterations_scale: float = 1.0,
    seed: int = 0,
    progress: bool = True,
    description: str = "optimising",
    snapshot_every: int = 0,
    attribution: bool = False,
) -> InversionResult:
    """Minimise ``data`` + the preset's priors with everything else the preset says: its
    parameterisation, start (per image, from ``seeds``; or ``init``), phases (scaled by
    ``iterations_scale``), transforms, ensemble and optimiser.

    Args:
        stride: of the deepest target layer (``None`` for a vector layer or a class score).
        shape: ``N×3×H×W`` of the images to make.
        attribution: also sum ``|∂E/∂x|`` over the iterations (:attr:`InversionResult.attribution`).
    """
    parameterisation = get_parameterisation(preset.parameterisation, net)
    start = init if init is not None else initial_images(preset.start, shape, seeds, net, parameterisation)
    phases = [phase.scaled(iterations_scale) for phase in preset.phases(stride)]
    return minimise(
        data,
        start.to(device=net.mean.device, dtype=net.mean.dtype),
        stepper_factory(preset.optimizer, **preset.optimizer_options),
        phases,
        priors=preset.priors(stride, net),
        parameterisation=parameterisation,
        transforms=preset.transforms(stride),
        ensemble=preset.ensemble,
        seed=seed,
        progress=progress,
        description=description,
        snapshot_every=snapshot_every,
        attribution=attribution,
    )


__all__ = ["eager_with_hooks", "input_images", "invert", "invert_features", "layer_stride", "run_preset", "with_network_priors"]
