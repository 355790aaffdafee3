"""A frozen classifier cut into named stages, one per canonical layer.

AlexNet, VGG16 and EfficientNet-Lite0/1/2 are each a :class:`LayeredNetwork`: an ordered
list of stages, each an ``nn.Module`` that maps the previous stage's output to the next. The
stage names are the canonical layer names (``conv1 … fc8``, ``stem block1 … fc``), so reading the
representation at a layer means running the stages up to it and no further.

Unlike a :class:`~deeprestore.nets.graph_network.GraphNetwork`, a layered network can also be
run from any intermediate layer (:meth:`LayeredNetwork.run`), and its layers have the kinds the
modular inverting networks are built from (:data:`LAYER_KINDS`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import Tensor, nn

from deeprestore.nets.feature_network import FeatureNetwork, LayerInfo

__all__ = ["LAYER_KINDS", "LayerInfo", "LayeredNetwork"]

#: What a stage does, as the inverting networks and the jitter schedule need to know it.
LAYER_KINDS = ("conv", "relu", "pool", "lrn", "mbconv", "global_pool", "fc")


class LayeredNetwork(FeatureNetwork):
    """A frozen network as an ordered sequence of named stages.

    Args:
        name: network name (``"alexnet"``, ``"vgg16"``, ``"efficientnet_lite0"``).
        stages: canonical layer name → stage module, in forward order.
        kinds: canonical layer name → kind (see :data:`LAYER_KINDS`).
        mean, std: per-channel input normalisation applied to ``[0, 1]`` images.
        weights: a short description of where the weights came from (``"random"`` or a path).
    """

    def __init__(
        self,
        name: str,
        stages: OrderedDict[str, nn.Module],
        kinds: dict[str, str],
        mean: Sequence[float],
        std: Sequence[float],
        weights: str,
    ) -> None:
        super().__init__(name, mean, std, weights)
        unknown = {k for k in kinds.values() if k not in LAYER_KINDS}
        if unknown or set(kinds) != set(stages):
            raise ValueError(f"bad layer kinds for {name}: {kinds}")
        self.stages = nn.ModuleDict(stages)
        self.kinds = dict(kinds)
        self.eval()
        self.requires_grad_(False)

    @property
    def layer_names(self) -> list[str]:
        """Canonical layer names in forward order."""
        return list(self.stages.keys())

    def layer_kind(self, layer: str) -> str:
        """One of :data:`LAYER_KINDS`."""
        return self.kinds[self.check_layer(layer)]

    def previous_layer(self, layer: str) -> str | None:
        """The layer whose output feeds ``layer``; ``None`` when it is the image."""
        i = self.index(layer)
        return self.layer_names[i - 1] if i > 0 else None

    def extract(self, x: Tensor, layers: Sequence[str]) -> dict[str, Tensor]:
        """The stages from the normalised image to the deepest of ``layers``."""
        return self.run(x, None, layers)

    def run(self, x: Tensor, start: str | None, layers: Sequence[str]) -> dict[str, Tensor]:
        """Run from the output of ``start`` (``None`` = normalised image) to the deepest of ``layers``.

        Args:
            x: the representation at ``start`` (or the *normalised* image when ``start`` is None).
            start: layer whose output ``x`` is.
            layers: layers after ``start`` to return.
        """
        first = 0 if start is None else self.index(start) + 1
        deepest = max(self.index(layer) for layer in layers)
        if deepest < first:
            raise ValueError(f"layers {list(layers)} do not come after {start!r}")
        out: dict[str, Tensor] = {}
        for name in self.layer_names[first : deepest + 1]:
            x = self.stages[name](x)
            if name in layers:
                out[name] = x
        return {layer: out[layer] for layer in layers}
