"""Any ``nn.Module`` as a network of the zoo, read at torchvision feature-extraction node names.

    net = GraphNetwork("my_net", model, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    print(net.describe(128))                       # the chain points, their kinds and shapes
    feats = net.features(images, ["layer2", "layer3.1.conv2"])

Features come from ``torchvision.models.feature_extraction.create_feature_extractor``: the traced
graph with everything after the requested nodes removed, so reading a layer runs only what that
layer needs. One extractor is built per set of requested nodes and kept.

Conventions (see :mod:`deeprestore.nets.graph_layers` for the names):

* **layers** — :attr:`GraphNetwork.layer_names` lists the chain points; any node name of
  ``get_graph_node_names(model)`` (or a module name, standing for its last node) can be asked for;
* **in-place operations** are made out of place (modules' ``inplace`` flags, ``+=`` in the
  graph), so a returned feature is never overwritten;
* **tokens** — ``N×T×D`` outputs of a ViT come back as ``N×D×h×w`` patch maps
  (:mod:`deeprestore.nets.tokens`), or unchanged with ``token_layout="tokens"``;
* the network is frozen and stays in evaluation mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torchvision.models.feature_extraction import create_feature_extractor

from deeprestore.nets.feature_network import FeatureNetwork
from deeprestore.nets.graph_layers import GraphLayers, functionalise_inplace_ops
from deeprestore.nets.tokens import tokens_to_grid

__all__ = ["TOKEN_LAYOUTS", "GraphNetwork"]

TOKEN_LAYOUTS = ("grid", "tokens")


class GraphNetwork(FeatureNetwork):
    """A frozen ``nn.Module`` classifier read at named graph nodes.

    Args:
        name: network name (``"torchvision/resnet50"``, ``"timm/convnext_tiny"``, your own).
        model: the classifier: normalised ``N×3×H×W`` images → ``N×K`` logits; traceable by
            ``torch.fx`` (torchvision's and timm's models are).
        mean, std: the input normalisation it was trained with, for ``[0, 1]`` RGB.
        weights: where its weights came from (for reports).
        layers: the layers to list (default: the chain points); any node name is accepted.
        token_layout: ``"grid"`` (ViT tokens as ``N×D×h×w``) or ``"tokens"`` (``N×T×D``).
        input_size: the only ``(H, W)`` the model accepts (ViTs), ``None`` for any.
        probe_size: input size used to trace shapes when ``input_size`` is ``None``.
        tracer_kwargs: passed to torchvision's ``torch.fx`` tracer (leaf modules, autowrapped
            functions).

    Raises:
        ValueError: untraceable model, unknown layer, or unknown ``token_layout``.
    """

    def __init__(
        self,
        name: str,
        model: nn.Module,
        mean: Sequence[float],
        std: Sequence[float],
        weights: str,
        *,
        layers: Sequence[str] | None = None,
        token_layout: str = "grid",
        input_size: tuple[int, int] | None = None,
        probe_size: int = 224,
        tracer_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(name, mean, std, weights, input_size)
        if token_layout not in TOKEN_LAYOUTS:
            raise ValueError(f"token_layout must be one of {', '.join(TOKEN_LAYOUTS)}, got {token_layout!r}")
        for module in model.modules():
            if isinstance(getattr(module, "inplace", None), bool):
                module.inplace = False
        model.eval()
        self.model = model
        self.token_layout = token_layout
        self.tracer_kwargs = tracer_kwargs
        self.requires_grad_(False)
        parameter = next(model.parameters(), None)
        probe = torch.zeros(
            1, 3, *(input_size or (probe_size, probe_size)), dtype=parameter.dtype if parameter is not None else torch.float32
        )
        self.graph = GraphLayers(model, probe, tracer_kwargs)
        self._kinds = {point.name: point.kind for point in self.graph.chain}
        self._logits = self.graph.chain[-1].name
        self._layers = list(self._kinds) if layers is None else [self.check_layer(layer) for layer in layers]
        self._extractors: dict[tuple[str, ...], nn.Module] = {}

    # -- naming -----------------------------------------------------------------------------
    @property
    def layer_names(self) -> list[str]:
        """The chain points (or the layers given), in forward order, then the logits."""
        return self._layers

    @property
    def module_layers(self) -> list[str]:
        """The chain points that are module outputs (``layer2``, not ``layer2.1.add``)."""
        modules = {p.name for p in self.graph.chain if p.is_module}
        return [layer for layer in self._layers if layer in modules]

    @property
    def logits_layer(self) -> str:
        """The last chain point: the model's output."""
        return self._logits

    def check_layer(self, layer: str) -> str:
        """``layer`` if it names a node or module of the graph, else a ``ValueError`` listing the
        chain points."""
        if self.graph.resolve(layer) is None:
            raise ValueError(
                f"unknown layer {layer!r} for {self.name}; its chain points: {', '.join(p.name for p in self.graph.chain)} "
                "(any node name of torchvision.models.feature_extraction.get_graph_node_names(model) works too)"
            )
        return layer

    def index(self, layer: str) -> int:
        """Forward position of the node ``layer`` stands for."""
        return self.graph.position(self.graph.resolve(self.check_layer(layer)))

    def layer_kind(self, layer: str) -> str:
        """The module class or operation of the node (``Bottleneck``, ``EncoderBlock``, ``add``)."""
        node = self.graph.resolve(self.check_layer(layer))
        return self._kinds.get(layer) or next((p.kind for p in self.graph.chain if p.node == node), "node")

    # -- forward ----------------------------------------------------------------------------
    def extract(self, x: Tensor, layers: Sequence[str]) -> dict[str, Tensor]:
        """Run the graph pruned to the nodes of ``layers`` on normalised images ``x``."""
        nodes = {layer: self.graph.resolve(layer) for layer in layers}
        key = tuple(sorted(set(nodes.values())))
        extractor = self._extractors.get(key)
        if extractor is None:
            extractor = create_feature_extractor(
                self.model, return_nodes=list(key), tracer_kwargs=self.tracer_kwargs, suppress_diff_warning=True
            )
            extractor = functionalise_inplace_ops(extractor).eval()
            self._extractors[key] = extractor
        out = extractor(x)
        size = tuple(x.shape[-2:])
        return {layer: self._layout(out[node], size) for layer, node in nodes.items()}

    def _layout(self, feature: Tensor, size: tuple[int, int]) -> Tensor:
        if self.token_layout == "grid" and feature.ndim == 3:
            return tokens_to_grid(feature, size)
        return feature

    def forward(self, images: Tensor) -> Tensor:
        """Class logits of the whole model for ``[0, 1]`` images ``N×3×H×W``."""
        self.check_input(images)
        return self.model(self.normalize(images))

    def _apply(self, fn, *args, **kwargs):  # .to(), .cuda(), .half(): extractors are rebuilt on the moved model
        self._extractors = {}
        return super()._apply(fn, *args, **kwargs)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_extractors"] = {}
        return state
