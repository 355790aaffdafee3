"""What a preset is: everything an inversion needs besides the network, the layers and the images."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from deeprestore.inversion.engine import Phase
from deeprestore.inversion.transforms import RandomTransforms
from deeprestore.nets.feature_network import FeatureNetwork
from deeprestore.priors.base import ImagePrior

__all__ = ["Preset", "PriorsFactory", "with_fading_priors"]

#: ``(stride of the deepest target layer, network) → [(prior, λ)]``
PriorsFactory = Callable[[float | None, FeatureNetwork], list[tuple[ImagePrior, float]]]


def _no_transforms(stride: float | None) -> RandomTransforms | None:
    return None


@dataclass(frozen=True)
class Preset:
    """An optimisation method: variable, start, objective, transforms and optimiser.

    Attributes:
        name: preset name.
        optimizer: an optimiser name of :mod:`deeprestore.inversion.optimizers`.
        phases: ``stride → phases`` (the jitter depends on the stride of the deepest target layer).
        priors: ``(stride, network) → [(prior, λ)]``.
        data_weight: ``(stride, network name) → C`` of a target layer.
        calibrated: whether a single-layer inversion takes the layer's calibrated setting
            (:mod:`deeprestore.inversion.calibration_table`: C, a prior fade and the budget)
            where the network has one.
        parameterisation: a name of :mod:`deeprestore.inversion.parameterisations`.
        start: a start of :mod:`deeprestore.inversion.starts`.
        transforms: ``stride → RandomTransforms`` of the data term's view (``None``: none; a
            vector layer or activation maximisation is given ``stride = None``).
        ensemble: copies of the view the data term averages over (each transformed anew).
        batchnorm_weight: λ of DeepInversion's BN statistics prior (0: none).
        batchnorm_past_target: whether the BN prior also counts the BN layers past the target
            layers (the network then runs to its logits).
        optimizer_options: keyword arguments of the optimiser (``betas`` of Adam …).
        visualisation_phases: how many of the phases activation maximisation and caricatures run
            (M&V's code: the first, jittered one; ``None``: all).
    """

    name: str
    optimizer: str
    phases: Callable[[float | None], list[Phase]]
    priors: PriorsFactory
    data_weight: Callable[[float | None, str | None], float]
    calibrated: bool = False
    parameterisation: str = "pixels"
    start: str = "mv-noise"
    transforms: Callable[[float | None], RandomTransforms | None] = _no_transforms
    ensemble: int = 1
    batchnorm_weight: float = 0.0
    batchnorm_past_target: bool = False
    optimizer_options: dict[str, Any] = field(default_factory=dict)
    visualisation_phases: int | None = None

    @property
    def iterations(self) -> int:
        """The preset's own budget: iterations over all phases (at a stride where the phases do
        not depend on it)."""
        return sum(p.iterations for p in self.phases(None))


def with_fading_priors(preset: Preset, final: float, name: str | None = None) -> Preset:
    """``preset`` with its priors' weights decaying linearly from 1× to ``final``× over the first
    phase and held at ``final``× after it (the hard projections still apply).

    Where a layer nearly determines the image (EfficientNet-Lite0's stem and block1) the priors
    pull the pre-image away from the features; letting them fade keeps their early help (a
    smooth, bounded start) without that pull at the end. ``final = 1`` is ``preset`` itself.
    """
    if not 0.0 <= final <= 1.0:
        raise ValueError(f"the final prior weight must be in [0, 1], got {final}")
    if final == 1.0:
        return preset if name is None else replace(preset, name=name)

    def phases(stride: float | None) -> list[Phase]:
        first, *rest = preset.phases(stride)
        span = max(first.iterations - 1, 1)
        fade = replace(first, prior_weight=lambda it: 1.0 - (1.0 - final) * min(it / span, 1.0))
        return [fade, *(replace(p, prior_weight=final) for p in rest)]

    return replace(preset, name=name or f"{preset.name}+fade{final:g}", phases=phases)
