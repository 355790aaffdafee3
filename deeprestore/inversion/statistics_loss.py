"""A data term on feature-map statistics instead of the maps: texture synthesis (Gatys, Ecker & Bethge
2015) and the other measures of the thesis's §4.1.

For layer ``l`` with maps ``F ∈ R^{C×(h·w)}`` of an image, a statistic ``S(F)`` (``C×C``) forgets
*where* features occur:

* ``gram``: ``G = F Fᵀ / (h·w)`` (Gatys et al. 2015, eq. 3; :func:`~deeprestore.stats.gram.gram_matrices`);
* ``covariance``: ``(F − F̄)(F − F̄)ᵀ / (h·w)``, the channels' covariance over positions (§4.1).

The term is ``Σ_l C_l ‖S(Φ_l(x)) − S_l‖²_F / ‖S_l‖²_F`` per image: Gatys et al.'s eq. 4–5 with each
layer normalised by its own target, as :class:`~deeprestore.inversion.NormalisedFeatureLoss` is, so
``C_l`` weighs layers independently of their scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
from torch import Tensor, nn

from deeprestore.inversion.execution import Execution, network_pass
from deeprestore.nets.feature_network import FeatureNetwork
from deeprestore.stats.gram import gram_matrices

__all__ = ["STATISTICS", "StatisticsLoss", "Statistic", "map_statistics"]

Statistic = Literal["gram", "covariance"]
STATISTICS: tuple[str, ...] = ("gram", "covariance")


def map_statistics(features: Tensor, statistic: Statistic) -> Tensor:
    """Per-image ``N×C×C`` statistics of maps ``N×C×h×w`` (float32 at least)."""
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {', '.join(STATISTICS)}, got {statistic!r}")
    features = features.to(torch.promote_types(features.dtype, torch.float32))
    if statistic == "covariance":
        features = features - features.mean(dim=(2, 3), keepdim=True)
    return gram_matrices(features)


class StatisticsLoss(nn.Module):
    """``Σ_l C_l ‖S(Φ_l(x)) − S_l‖²_F / ‖S_l‖²_F`` per image.

    Args:
        net: the frozen network.
        weights: layer → ``C_l`` (layers with ``C×h×w`` maps).
        targets: layer → target statistics ``S_l`` (``N×C×C``), e.g. from :meth:`from_images`.
        statistic: ``gram`` or ``covariance``.
        execution: how the network pass runs (default :class:`~deeprestore.inversion.execution.Execution` ()).

    Raises:
        ValueError: weights and targets for different layers, targets of different batch sizes, an
            unknown statistic, or a target that is zero for some image.
    """

    def __init__(
        self,
        net: FeatureNetwork,
        weights: Mapping[str, float],
        targets: Mapping[str, Tensor],
        statistic: Statistic = "gram",
        execution: Execution | None = None,
    ) -> None:
        super().__init__()
        if not weights or set(weights) != set(targets):
            raise ValueError(f"weights are for {sorted(weights)} but targets for {sorted(targets)}")
        if len({t.shape[0] for t in targets.values()}) != 1:
            raise ValueError("every layer's targets need the same batch size")
        map_statistics(torch.zeros(1, 1, 1, 1), statistic)  # one line for an unknown statistic
        self.net, self.statistic = net, statistic
        self.layers = [net.check_layer(layer) for layer in weights]
        self.weights = {layer: float(weights[layer]) for layer in self.layers}
        self.network_pass = network_pass(net, self.layers, execution)
        self.targets = {layer: (t := targets[layer].detach()).to(torch.promote_types(t.dtype, torch.float32)) for layer in self.layers}
        self.norms = {layer: t.flatten(1).pow(2).sum(1) for layer, t in self.targets.items()}
        for layer, norm in self.norms.items():
            if (norm == 0).any():
                raise ValueError(f"the target {statistic} at {layer} is zero for images {torch.nonzero(norm == 0).flatten().tolist()}")

    @classmethod
    def from_images(
        cls,
        net: FeatureNetwork,
        weights: Mapping[str, float],
        images: Tensor,
        statistic: Statistic = "gram",
        execution: Execution | None = None,
    ) -> StatisticsLoss:
        """Targets are the statistics of ``images`` (``N×3×H×W`` in ``[0, 1]``; any size: statistics are ``C×C``)."""
        with torch.no_grad():
            maps = net.features(images, list(weights))
        return cls(net, weights, {layer: map_statistics(m, statistic) for layer, m in maps.items()}, statistic, execution)

    @property
    def batch_size(self) -> int:
        return next(iter(self.targets.values())).shape[0]

    def relative_errors(self, images: Tensor) -> dict[str, Tensor]:
        """Per layer, ``‖S(Φ_l(x)) − S_l‖_F / ‖S_l‖_F`` per image (``N``)."""
        feats = self.network_pass(images)
        return {
            layer: (map_statistics(feats[layer], self.statistic) - self.targets[layer]).flatten(1).norm(dim=1) / self.norms[layer].sqrt()
            for layer in self.layers
        }

    def forward(self, images: Tensor) -> Tensor:
        """Per-image loss ``(N,)`` of ``images`` (``N×3×H×W`` in ``[0, 1]`` units)."""
        errors = self.relative_errors(images)
        return torch.stack([self.weights[layer] * errors[layer].pow(2) for layer in self.layers]).sum(0)
