"""The batch-norm statistics prior of DeepInversion (Yin et al., CVPR 2020, eq. 4 and §3.2).

A network trained with batch normalisation stores, for every BN layer ``l``, the running mean
``μ_l^BN`` and variance ``σ²_l^BN`` of that layer's input over the training set. DeepInversion
uses them as a free, learned prior over the feature maps of a synthesised image ``x̂``::

    R_feature(x̂) = Σ_l  w_l ( ‖μ_l(x̂) − μ_l^BN‖₂ + ‖σ²_l(x̂) − σ²_l^BN‖₂ )

(plain, not squared, ℓ2 norms over the channels; ``w_l = 10`` for the first BN layer and 1 for
the others: the authors' ``first_bn_multiplier``).

Statistics per image. DeepInversion takes ``μ_l, σ²_l`` over the batch and the positions (the
biased variance of ``N·H·W`` values per channel). Here they are taken over the positions of each
image alone (``H·W`` values per channel and image), so an image's energy — and its reconstruction —
does not depend on the rest of its batch, as everywhere in this project. A single image's spatial
statistics scatter around the stored ones (its variance is, on average, below the running
variance, which also holds the spread of the means between images), so the prior pulls a little
towards high-contrast feature maps; ``statistics="batch"`` gives the authors' batch statistics for
activation maximisation, where a batch is one synthesis.

The prior reads the network's own forward pass: :meth:`BatchNormStatistics.recording` hooks the
inputs of the BN layers while the data term runs the network on the image it sees, and
:meth:`BatchNormStatistics.energy` turns what was recorded into ``(N,)`` energies. No second pass
is run. Which BN layers count is which ones the pass ran: those up to the data term's deepest
layer (a feature loss run further, e.g. to the logits, also counts the layers past it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Literal

import torch
from torch import Tensor, nn

from deeprestore.nets.feature_network import FeatureNetwork
from deeprestore.precision import compute_dtype

__all__ = ["FIRST_BN_MULTIPLIER", "BatchNormStatistics", "batchnorm_layers", "statistics_distance"]

#: DeepInversion's weight of the first BN layer relative to the others (``first_bn_multiplier``)
FIRST_BN_MULTIPLIER = 10.0


def batchnorm_layers(net: nn.Module) -> dict[str, nn.modules.batchnorm._BatchNorm]:
    """The 2-d batch-norm layers of ``net`` that track running statistics, by module name, in
    registration order (the forward order of every network of the zoo)."""
    return {
        name: m for name, m in net.named_modules() if isinstance(m, nn.BatchNorm2d) and m.track_running_stats and m.running_mean is not None
    }


def statistics_distance(mean: Tensor, var: Tensor, running_mean: Tensor, running_var: Tensor) -> Tensor:
    """``‖μ − μ^BN‖₂ + ‖σ² − σ²^BN‖₂`` per row: ``mean, var`` are ``N×C``, the running ones ``(C,)``."""
    return torch.linalg.vector_norm(mean - running_mean, dim=1) + torch.linalg.vector_norm(var - running_var, dim=1)


class BatchNormStatistics:
    """DeepInversion's ``R_feature`` on the BN layers a forward pass of ``net`` runs.

    Args:
        net: the frozen network (its BN layers keep their stored statistics).
        layer_weights: ``w_l`` by BN module name; a layer not named gets 1, except the first BN
            layer of the network, which gets :data:`FIRST_BN_MULTIPLIER` unless named.
        statistics: ``"image"`` (per image over positions; the default, batch-independent) or
            ``"batch"`` (DeepInversion's, over the batch and the positions: one value broadcast to
            every image of the batch).

    Raises:
        ValueError: a network without BN layers, a weight for a module that is not one of them,
            an unknown ``statistics``.

    Use::

        prior = BatchNormStatistics(net)
        with prior.recording():
            loss = feature_loss(images)      # runs the network: the hooks record the BN inputs
        energy = prior.energy()              # (N,)
    """

    def __init__(
        self, net: FeatureNetwork, layer_weights: Mapping[str, float] | None = None, statistics: Literal["image", "batch"] = "image"
    ) -> None:
        self.layers = batchnorm_layers(net)
        if not self.layers:
            raise ValueError(f"{net.name} has no batch-norm layers with running statistics: the BN prior needs them")
        if statistics not in ("image", "batch"):
            raise ValueError(f"statistics must be 'image' or 'batch', got {statistics!r}")
        weights = dict(layer_weights or {})
        unknown = sorted(set(weights) - set(self.layers))
        if unknown:
            raise ValueError(f"no batch-norm layer named {unknown[0]!r} in {net.name}; its BN layers: {', '.join(list(self.layers)[:8])} …")
        first = next(iter(self.layers))
        self.weights = {name: float(weights.get(name, FIRST_BN_MULTIPLIER if name == first else 1.0)) for name in self.layers}
        self.statistics = statistics
        self.name = f"bn-statistics({statistics})"
        self._recorded: list[Tensor] = []

    def _hook(self, name: str, module: nn.modules.batchnorm._BatchNorm):
        def record(_: nn.Module, inputs: tuple[Tensor, ...]) -> None:
            x = inputs[0].to(compute_dtype(inputs[0]))
            dims = (2, 3) if self.statistics == "image" else (0, 2, 3)
            var, mean = torch.var_mean(x, dim=dims, correction=0)
            if self.statistics == "batch":
                mean, var = mean.expand(x.shape[0], -1), var.expand(x.shape[0], -1)
            distance = statistics_distance(mean, var, module.running_mean.to(x.dtype), module.running_var.to(x.dtype))
            self._recorded.append(self.weights[name] * distance)

        return record

    @contextmanager
    def recording(self) -> Iterator[BatchNormStatistics]:
        """Hook every BN layer's input for the duration of the block (the hooks are removed after
        it, also on an error); what a forward pass in it runs is kept for :meth:`energy`."""
        self._recorded.clear()
        handles = [m.register_forward_pre_hook(self._hook(name, m)) for name, m in self.layers.items()]
        try:
            yield self
        finally:
            for handle in handles:
                handle.remove()

    @property
    def layers_recorded(self) -> int:
        """How many BN layers the last recorded pass ran."""
        return len(self._recorded)

    def energy(self) -> Tensor:
        """``R_feature`` per image ``(N,)`` of the pass recorded last; clears the record.

        Raises:
            RuntimeError: nothing was recorded (no pass inside :meth:`recording`, or a pass that ran
                no BN layer).
        """
        if not self._recorded:
            raise RuntimeError("no batch-norm statistics recorded: run the network inside BatchNormStatistics.recording()")
        total = torch.stack(self._recorded).sum(0)
        self._recorded.clear()
        return total
