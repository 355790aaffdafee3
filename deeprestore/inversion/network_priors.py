"""Priors read from the network's own forward pass, added to the data term that runs it.

DeepInversion's batch-norm statistics prior (:class:`~deeprestore.priors.BatchNormStatistics`)
needs the feature maps the network computes on the image it sees. The data term (the feature loss,
or an activation-maximisation objective) already runs that pass on the engine's view, so
:class:`WithBatchNormPrior` records the BN inputs during it: one forward pass serves both terms.
To the engine it is the data term; its value per image is ``data(x) + λ·R_feature(x)``.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from deeprestore.inversion.execution import runs_module_hooks
from deeprestore.priors.batchnorm_statistics import BatchNormStatistics

__all__ = ["WithBatchNormPrior"]


class WithBatchNormPrior(nn.Module):
    """``data(x) + weight · R_feature(x)``, both from the pass ``data`` runs: ``N×3×H×W`` → ``(N,)``.

    Args:
        data: a per-image data term that runs the network ``prior`` hooks.
        prior: the BN statistics prior of that network.
        weight: λ of the prior.

    Raises:
        ValueError: a data term whose network pass does not run the network's own BN layers (a
            folded or compiled :class:`~deeprestore.inversion.execution.Execution`).
        RuntimeError (at call): the data term ran no BN layer of the network.
    """

    def __init__(self, data: Callable[[Tensor], Tensor], prior: BatchNormStatistics, weight: float) -> None:
        super().__init__()
        network_pass = getattr(data, "network_pass", None)
        if network_pass is not None and not runs_module_hooks(network_pass):
            raise ValueError(
                "the BN statistics prior needs the network's own batch-norm layers, but the data term's pass is folded "
                "or compiled: build it with Execution(fold_batchnorm=False, compile=False)"
            )
        self.data, self.prior, self.weight = data, prior, float(weight)

    def forward(self, images: Tensor) -> Tensor:
        with self.prior.recording():
            value = self.data(images)
        return value + self.weight * self.prior.energy()
