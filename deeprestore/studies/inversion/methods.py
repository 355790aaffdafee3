"""The methods of the inversion study, behind one protocol.

A method reconstructs images from their features at a layer. The study plans its jobs — one per
``(method, layer)`` — from :meth:`Method.layers` alone, and runs each job with the function
:meth:`Method.reconstructor` builds, so it treats every method alike:

* :class:`PresetMethod` — an optimisation preset of :mod:`deeprestore.inversion` (``mv2016``,
  ``mv2015``, ``gd-plain``), at every study layer;
* :class:`LearnedPriorMethod` — a preset with a trained prior added (MSc thesis §3.3), at every
  study layer (an image prior) or the layers deeper than its own (a feature-map prior);
* :class:`InverterMethod` — a trained inverting network (Dosovitskiy & Brox 2016), at its own layer;
* :class:`HybridMethod` — a preset's optimisation started from an inverting network's
  reconstruction, with a fraction of the preset's iterations, at the inverter's layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from deeprestore.checkpoint_files import TRUST_CHECKPOINTS, read_checkpoint
from deeprestore.inversion import Execution, get_preset, invert, layer_stride
from deeprestore.inversion.presets import Preset, describe_data_weight, with_fading_priors
from deeprestore.inverters import load_inverting_network
from deeprestore.nets.feature_network import FeatureNetwork
from deeprestore.priors import DAEPrior, load_dae_prior, load_patch_prior
from deeprestore.priors.learned_prior import FeatureMapPrior, PatchImagePrior

__all__ = ["HybridMethod", "InverterMethod", "LearnedPriorMethod", "Method", "PresetMethod", "Reconstructor", "TunedPresetMethod"]

#: ``images N×3×H×W in [0, 1] → (reconstructions N×3×H×W, diverged_at per image)``.
Reconstructor = Callable[[Tensor], tuple[Tensor, list[int | None]]]


class Method(Protocol):
    """What the study needs of a method."""

    @property
    def name(self) -> str:
        """The ``method`` column of the rows."""
        ...

    def layers(self, study_layers: Sequence[str], net: FeatureNetwork) -> list[str]:
        """The study layers this method is evaluated at, in network order."""
        ...

    def describe(self) -> dict[str, Any]:
        """The method's settings for ``config.yaml``."""
        ...

    def provenance(self) -> dict[str, str | None]:
        """Where a trained method comes from: ``training_run`` and ``training_wandb_id`` columns."""
        ...

    @property
    def iterations(self) -> int | None:
        """The method's own iteration budget, which a study's ``--optimisation.budget`` rescales (``None``: a
        trained method, or one whose budget is part of its setting)."""
        ...

    def reconstructor(
        self, net: FeatureNetwork, layer: str, *, iterations_scale: float, seed: int, progress: bool, execution: Execution | None = None
    ) -> Reconstructor:
        """The function that reconstructs a batch at ``layer`` (on the network's device); an
        optimisation runs its network pass as ``execution`` says."""
        ...

    def data_weight_note(self, net: FeatureNetwork, layer: str, image_size: int) -> str | None:
        """An optimisation method's data weight C at ``layer`` and where it comes from (``None``
        for a method without one)."""
        ...


def _preset_note(preset: str, net: FeatureNetwork, layer: str, image_size: int) -> str:
    return describe_data_weight(get_preset(preset), net.name, layer, layer_stride(net, layer, net.probe_size(image_size)))


def _preset_reconstructor(
    net: FeatureNetwork,
    layer: str,
    preset: Preset,
    iterations_scale: float,
    seed: int,
    progress: bool,
    execution: Execution | None,
    layer_weights: dict[str, float] | None = None,
) -> Reconstructor:
    def run(images: Tensor) -> tuple[Tensor, list[int | None]]:
        result = invert(
            net,
            images,
            [layer],
            preset,
            layer_weights=layer_weights,
            iterations_scale=iterations_scale,
            seed=seed,
            progress=progress,
            execution=execution,
        )
        return result.images.detach(), list(result.diverged_at)

    return run


NO_PROVENANCE: dict[str, str | None] = {"training_run": None, "training_wandb_id": None}


@dataclass(frozen=True)
class PresetMethod:
    """An optimisation preset (a name of :data:`deeprestore.inversion.PRESETS`), at every study layer."""

    preset: str

    @property
    def name(self) -> str:
        return self.preset

    def layers(self, study_layers: Sequence[str], net: FeatureNetwork) -> list[str]:
        return sorted(study_layers, key=net.index)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "preset", "preset": self.preset}

    @property
    def iterations(self) -> int | None:
        return get_preset(self.preset).iterations

    def provenance(self) -> dict[str, str | None]:
        return dict(NO_PROVENANCE)

    def reconstructor(
        self, net: FeatureNetwork, layer: str, *, iterations_scale: float, seed: int, progress: bool, execution: Execution | None = None
    ) -> Reconstructor:
        return _preset_reconstructor(net, layer, get_preset(self.preset), iterations_scale, seed, progress, execution)

    def data_weight_note(self, net: FeatureNetwork, layer: str, image_size: int) -> str | None:
        return _preset_note(self.preset, net, layer, image_size)


@dataclass(frozen=True)
class LearnedPriorMethod:
    """A preset with a trained prior added to its priors: a patch prior
    (:class:`~deeprestore.priors.PatchPriorModule`) or a denoising autoencoder
    (:class:`~deeprestore.priors.DAEPriorModule`).

    Attributes:
        name: ``<base>+<experiment>``.
        checkpoint: the prior's checkpoint.
        weight: λ of the prior (its energy is per patch position).
        base: the preset it is added to.
        prior_layer: the feature-map prior's layer (``None`` for an image prior).
        prior_net: the network whose feature maps it models (``None`` for an image prior).
        kind: ``"patch"`` or ``"dae"``.
    """

    name: str
    checkpoint: Path
    weight: float
    base: str = "mv2016"
    prior_layer: str | None = None
    prior_net: str | None = None
    kind: str = "patch"
    trusted: bool = False

    @classmethod
    def from_checkpoint(cls, checkpoint: str | Path, weight: float, base: str = "mv2016", trusted: bool = False) -> LearnedPriorMethod:
        """Read the prior's kind and layer from its checkpoint (as data unless ``trusted``).

        Raises:
            ValueError: not a patch-prior or DAE-prior checkpoint.
        """
        hp = read_checkpoint(checkpoint, "--learned_priors", trusted=trusted, trust_option=TRUST_CHECKPOINTS).get("hyper_parameters", {})
        if "expert" not in hp and "sigma" not in hp:
            raise ValueError(f"{checkpoint} is not a PatchPriorModule or DAEPriorModule checkpoint (train one with configs/priors/…)")
        return cls(
            f"{base}+{Path(checkpoint).parent.name}",
            Path(checkpoint),
            weight,
            base,
            hp.get("layer"),
            hp.get("net"),
            "dae" if "sigma" in hp else "patch",
            trusted,
        )

    def layers(self, study_layers: Sequence[str], net: FeatureNetwork) -> list[str]:
        """Every study layer for an image prior; for a feature-map prior, those deeper than its layer."""
        layers = sorted(study_layers, key=net.index)
        if self.prior_layer is None:
            return layers
        return [layer for layer in layers if net.index(layer) > net.index(self.prior_layer)]

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "learned_prior",
            "checkpoint": str(self.checkpoint),
            "weight": self.weight,
            "base": self.base,
            "prior_layer": self.prior_layer,
        }

    @property
    def iterations(self) -> int | None:
        return get_preset(self.base).iterations

    def provenance(self) -> dict[str, str | None]:
        return training_provenance(self.checkpoint.parent)

    def reconstructor(
        self, net: FeatureNetwork, layer: str, *, iterations_scale: float, seed: int, progress: bool, execution: Execution | None = None
    ) -> Reconstructor:
        if self.prior_net is not None and self.prior_net != net.name:
            raise ValueError(f"{self.checkpoint} models {self.prior_net}'s features, the study inverts {net.name}")
        device = net.mean.device
        if self.kind == "dae":
            module = load_dae_prior(str(self.checkpoint), "--learned_priors", self.trusted)
            prior = DAEPrior(module.dae.to(device), float(module.noise_scale), *((net, self.prior_layer) if self.prior_net else ()))
        else:
            energy = load_patch_prior(str(self.checkpoint), "--learned_priors", self.trusted).energy.to(device)
            prior = FeatureMapPrior(energy, net, self.prior_layer) if self.prior_net else PatchImagePrior(energy)
        base = get_preset(self.base)
        preset = replace(base, name=self.name, priors=lambda stride, net: [*base.priors(stride, net), (prior, self.weight)])
        return _preset_reconstructor(net, layer, preset, iterations_scale, seed, progress, execution)

    def data_weight_note(self, net: FeatureNetwork, layer: str, image_size: int) -> str | None:
        return _preset_note(self.base, net, layer, image_size)


@dataclass(frozen=True)
class TunedPresetMethod:
    """A preset at one layer with its settings set by hand or by the calibration study: the data
    weight C, the final prior weight of :func:`~deeprestore.inversion.presets.with_fading_priors`
    and the iteration budget.

    Attributes:
        layer: the layer it runs at.
        data_weight: C of the layer (``None``: the preset's own).
        prior_final: the priors' weight at the end, relative to the start (1: constant).
        iterations_scale: multiplies the preset's iterations (instead of the study's).
        base: the preset.
    """

    layer: str
    data_weight: float | None = None
    prior_final: float = 1.0
    iterations_scale: float = 1.0
    base: str = "mv2016"

    @property
    def name(self) -> str:
        c = "" if self.data_weight is None else f"C={self.data_weight:g},"
        return f"{self.base}[{c}prior→{self.prior_final:g},×{self.iterations_scale:g}]"

    def layers(self, study_layers: Sequence[str], net: FeatureNetwork) -> list[str]:
        return [self.layer]

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "tuned_preset",
            "layer": self.layer,
            "data_weight": self.data_weight,
            "prior_final": self.prior_final,
            "iterations_scale": self.iterations_scale,
            "base": self.base,
        }

    @property
    def iterations(self) -> int | None:
        return None  # the budget is part of the setting

    def provenance(self) -> dict[str, str | None]:
        return dict(NO_PROVENANCE)

    def reconstructor(
        self, net: FeatureNetwork, layer: str, *, iterations_scale: float, seed: int, progress: bool, execution: Execution | None = None
    ) -> Reconstructor:
        """Runs at :attr:`iterations_scale` whatever the study's (it is part of the setting)."""
        preset = with_fading_priors(get_preset(self.base), self.prior_final, name=self.name)
        weights = None if self.data_weight is None else {layer: self.data_weight}
        return _preset_reconstructor(net, layer, preset, self.iterations_scale, seed, progress, execution, weights)

    def data_weight_note(self, net: FeatureNetwork, layer: str, image_size: int) -> str | None:
        if self.data_weight is None:
            return _preset_note(self.base, net, layer, image_size)
        return f"C = {self.data_weight:g}, prior → {self.prior_final:g}, ×{self.iterations_scale:g} budget (set for this run)"


@dataclass(frozen=True)
class InverterMethod:
    """A trained inverting network (:class:`~deeprestore.inverters.InvertingNetwork`), at its own layer.

    Attributes:
        name: ``inverter-<mode>`` (``-<experiment>`` added where two share mode and layer).
        checkpoint: the checkpoint file.
        experiment: its experiment folder name.
        mode: the training mode (``joint`` …).
        layer: the layer it inverts.
        weights: the network weights it was trained with.
    """

    name: str
    checkpoint: Path
    experiment: str
    mode: str
    layer: str
    weights: str

    def layers(self, study_layers: Sequence[str], net: FeatureNetwork) -> list[str]:
        return [self.layer]

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "inverter",
            "checkpoint": str(self.checkpoint),
            "experiment": self.experiment,
            "mode": self.mode,
            "layer": self.layer,
            **self.provenance(),
        }

    @property
    def iterations(self) -> int | None:
        return None  # trained: no iterations

    def provenance(self) -> dict[str, str | None]:
        return training_provenance(self.checkpoint.parent)

    def reconstructor(
        self, net: FeatureNetwork, layer: str, *, iterations_scale: float, seed: int, progress: bool, execution: Execution | None = None
    ) -> Reconstructor:
        """Loads the checkpoint once (on the network's device); no optimisation, so no divergence."""
        if layer != self.layer:
            raise ValueError(f"{self.name} inverts {self.layer}, not {layer}")
        model = load_inverting_network(self.checkpoint, "inverter checkpoint").to(net.mean.device)

        @torch.no_grad()
        def run(images: Tensor) -> tuple[Tensor, list[int | None]]:
            feats = model.net.features(images, layer)[layer]
            return model(feats, tuple(images.shape[-2:])), [None] * len(images)

        return run

    def data_weight_note(self, net: FeatureNetwork, layer: str, image_size: int) -> str | None:
        return None


@dataclass(frozen=True)
class HybridMethod:
    """The optimisation of ``preset`` started from a trained inverter's reconstruction: the
    inverter gives a plausible image near the right one in one pass, the optimisation then matches
    the features from there with ``fraction`` of the preset's iterations (every phase scaled).

    The start is the inverter's output clamped to [0, 1], encoded by the preset's
    parameterisation (pixels, Fourier or decorrelated colour) as any start is
    (:func:`~deeprestore.inversion.engine.minimise`). With ``fraction = 0`` no optimisation runs
    and the method returns the inverter's output.

    Attributes:
        preset: the optimisation preset (``mv2016-calibrated`` uses its layer's calibrated setting,
            scaled by ``fraction``).
        inverter: the inverting network it starts from.
        fraction: of the preset's iterations (after the study's budget or scale), in [0, 1].
    """

    preset: str
    inverter: InverterMethod
    fraction: float = 0.25

    @property
    def name(self) -> str:
        return f"hybrid-{self.preset}-from-{self.inverter.name.removeprefix('inverter-')}"

    def layers(self, study_layers: Sequence[str], net: FeatureNetwork) -> list[str]:
        return self.inverter.layers(study_layers, net)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "hybrid", "preset": self.preset, "fraction": self.fraction, "inverter": self.inverter.describe()}

    @property
    def iterations(self) -> int | None:
        return get_preset(self.preset).iterations

    def provenance(self) -> dict[str, str | None]:
        return self.inverter.provenance()

    def reconstructor(
        self, net: FeatureNetwork, layer: str, *, iterations_scale: float, seed: int, progress: bool, execution: Execution | None = None
    ) -> Reconstructor:
        start = self.inverter.reconstructor(
            net, layer, iterations_scale=iterations_scale, seed=seed, progress=progress, execution=execution
        )
        if self.fraction == 0:
            return start
        preset = get_preset(self.preset)

        def run(images: Tensor) -> tuple[Tensor, list[int | None]]:
            init = start(images)[0].clamp(0, 1)
            result = invert(
                net,
                images,
                [layer],
                preset,
                init=init,
                iterations_scale=iterations_scale * self.fraction,
                seed=seed,
                progress=progress,
                execution=execution,
            )
            return result.images.detach(), list(result.diverged_at)

        return run

    def data_weight_note(self, net: FeatureNetwork, layer: str, image_size: int) -> str | None:
        return _preset_note(self.preset, net, layer, image_size)


def training_provenance(folder: Path) -> dict[str, str | None]:
    """The training run a checkpoint came from: its experiment folder and, if ``train.py``
    logged it to W&B, the run id (the suffix of the newest ``wandb/*run-<date>-<id>`` folder)."""
    runs = sorted(p for p in (folder / "wandb").glob("*run-*-*") if p.is_dir()) if (folder / "wandb").is_dir() else []
    return {"training_run": str(folder), "training_wandb_id": runs[-1].name.rsplit("-", 1)[-1] if runs else None}
