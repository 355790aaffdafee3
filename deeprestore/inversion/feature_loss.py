"""The normalised feature reconstruction loss of Mahendran & Vedaldi.

M&V 2015 (eq. 3 of Harder's summary) and 2016: ``C · ‖Φ(x) − Φ0‖² / ‖Φ0‖²``, here per image and
summed over one or several layers with their own weights ``C_l``. Each image of a batch is
normalised by its own target, so N images are N independent problems solved in one batch.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from deeprestore.inversion.execution import Execution, network_pass
from deeprestore.nets.feature_network import FeatureNetwork


class NormalisedFeatureLoss(nn.Module):
    """``Σ_l C_l ‖Φ_l(x) − Φ0_l‖² / ‖Φ0_l‖²`` per image.

    Args:
        net: the frozen network.
        weights: layer name → ``C_l``.
        targets: layer name → target features ``Φ0_l`` (``N×…``), e.g. from :meth:`from_images`.
        run_to: a deeper layer the network also runs to (its output unused), so that a prior read
            from the pass (:class:`~deeprestore.inversion.network_priors.WithBatchNormPrior`) sees
            the layers past the targets too.
        execution: how the network pass runs (memory format, precision, compilation; default
            :class:`~deeprestore.inversion.execution.Execution` ()).

    Raises:
        ValueError: for unknown layers, a target without a weight, non-finite targets, or a
            target whose norm is zero for some image (the loss would be undefined).
    """

    def __init__(
        self,
        net: FeatureNetwork,
        weights: Mapping[str, float],
        targets: Mapping[str, Tensor],
        run_to: str | None = None,
        execution: Execution | None = None,
    ) -> None:
        super().__init__()
        if not weights:
            raise ValueError("no target layers given")
        if set(weights) != set(targets):
            raise ValueError(f"weights are for {sorted(weights)} but targets for {sorted(targets)}")
        self.net = net
        self.layers = [net.check_layer(layer) for layer in weights]
        self.weights = {layer: float(weights[layer]) for layer in self.layers}
        self.run_layers = [*self.layers, net.check_layer(run_to)] if run_to and run_to not in self.layers else self.layers
        self.network_pass = network_pass(net, self.run_layers, execution)
        sizes = {t.shape[0] for t in targets.values()}
        if len(sizes) != 1:
            raise ValueError(f"targets have different batch sizes: {sizes}")
        self.targets: dict[str, Tensor] = {}
        self.norms: dict[str, Tensor] = {}
        for layer in self.layers:
            target = targets[layer].detach()
            if not torch.isfinite(target).all():
                raise ValueError(f"target features at {layer} contain NaN or inf")
            norm = target.float().flatten(1).pow(2).sum(1)
            if (norm == 0).any():
                bad = torch.nonzero(norm == 0).flatten().tolist()
                raise ValueError(f"target features at {layer} are all zero for images {bad}: the normalised loss is undefined")
            self.targets[layer], self.norms[layer] = target, norm

    @classmethod
    def from_images(
        cls,
        net: FeatureNetwork,
        weights: Mapping[str, float],
        images: Tensor,
        run_to: str | None = None,
        execution: Execution | None = None,
    ) -> NormalisedFeatureLoss:
        """Targets are the features of ``images`` (``N×3×H×W`` in ``[0, 1]``; computed in float32)."""
        with torch.no_grad():
            targets = net.features(images, list(weights))
        return cls(net, weights, targets, run_to, execution)

    @property
    def batch_size(self) -> int:
        return next(iter(self.targets.values())).shape[0]

    def forward(self, images: Tensor) -> Tensor:
        """Per-image loss ``(N,)`` of ``images`` (``N×3×H×W`` in ``[0, 1]`` units)."""
        feats = self.network_pass(images)
        total = images.new_zeros(images.shape[0], dtype=torch.float32)
        for layer in self.layers:
            diff = (feats[layer].float() - self.targets[layer].float()).flatten(1).pow(2).sum(1)
            total = total + self.weights[layer] * diff / self.norms[layer]
        return total

    def feature_errors(self, images: Tensor) -> dict[str, Tensor]:
        """Per layer, the normalised error ``‖Φ(x) − Φ0‖ / ‖Φ0‖`` per image (M&V's reported measure)."""
        with torch.no_grad():
            feats = self.net.features(images, self.layers)
        return {
            layer: (feats[layer].float() - self.targets[layer].float()).flatten(1).norm(dim=1) / self.norms[layer].sqrt()
            for layer in self.layers
        }
