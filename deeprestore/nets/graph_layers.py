"""The layers of any ``nn.Module``: torchvision feature-extraction node names, and the chain
points among them that a :class:`~deeprestore.nets.graph_network.GraphNetwork` lists.

A node name is the path of ``torchvision.models.feature_extraction``: module names from the top
down to a leaf module or operation (``layer1.0.conv1``, ``layer1.0.add``,
``encoder.layers.encoder_layer_3.mlp``). A module name stands for the module's last node, as in
``create_feature_extractor`` (``layer1`` is ``layer1.2.relu_2`` in a ResNet-18).

A **chain point** is a node every path from the input to the logits passes through: the
representation there is all the rest of the network sees. In a plain chain every node is one; in
a residual network they are the block outputs (the branches inside a block are not), in a ViT the
token sequence between encoder blocks. Each chain point is listed under the shallowest module name
whose last node it is (``layer1.0``, ``layer1`` for the last block, ``fc``), so the list reads like
the network's own structure. Dropout and identity modules are left out (in evaluation they
return their input).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

__all__ = ["ChainPoint", "GraphLayers", "functionalise_inplace_ops"]

_SKIPPED_MODULES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity)
_INPLACE_FUNCTIONS = {
    "iadd": "add",
    "isub": "sub",
    "imul": "mul",
    "itruediv": "truediv",
    "iand": "and_",
    "ior": "or_",
}


@dataclass(frozen=True)
class ChainPoint:
    """One listed layer of a traced network.

    Attributes:
        name: the shallowest module name whose last node this is (or the node's own name).
        node: the node's full name.
        kind: the module's class name (``Bottleneck``) or the operation (``add``, ``flatten``).
        is_module: whether ``name`` names a submodule (its output), not an operation.
    """

    name: str
    node: str
    kind: str
    is_module: bool


def functionalise_inplace_ops(graph_module: fx.GraphModule) -> fx.GraphModule:
    """Rewrite a traced graph's in-place operations (``out += identity``, ``x.add_(y)``,
    ``relu(x, inplace=True)``) as out-of-place ones, so a feature returned at one node is never
    overwritten by a later node. Returns the same module, recompiled."""
    import operator

    for node in graph_module.graph.nodes:
        if (
            node.op == "call_function"
            and getattr(node.target, "__name__", "") in _INPLACE_FUNCTIONS
            and node.target is getattr(operator, node.target.__name__, None)
        ):
            node.target = getattr(operator, _INPLACE_FUNCTIONS[node.target.__name__])
        elif node.op == "call_method" and isinstance(node.target, str) and node.target.endswith("_") and not node.target.startswith("_"):
            node.target = node.target[:-1]
        if node.op in ("call_function", "call_method") and node.kwargs.get("inplace") is True:
            node.kwargs = {**node.kwargs, "inplace": False}
    graph_module.recompile()
    return graph_module


class GraphLayers:
    """The node names and chain points of ``model``, traced once.

    Args:
        model: the network, in evaluation mode; its modules' ``inplace`` flags should be off.
        probe: one input batch (``1×3×H×W``, normalised) to propagate shapes with.
        tracer_kwargs: passed to torchvision's tracer (timm models need timm's leaf modules).

    Raises:
        ValueError: the model cannot be traced by ``torch.fx`` (the message names the cause).
    """

    def __init__(self, model: nn.Module, probe: torch.Tensor, tracer_kwargs: dict[str, Any] | None = None) -> None:
        self.tracer_kwargs = tracer_kwargs
        try:
            self.node_names: list[str] = get_graph_node_names(model, tracer_kwargs=tracer_kwargs)[1]
            traced = create_feature_extractor(model, return_nodes=self.node_names, tracer_kwargs=tracer_kwargs, suppress_diff_warning=True)
        except Exception as error:  # torch.fx raises TraceError, TypeError, NotImplementedError …
            raise ValueError(
                f"{type(model).__name__} cannot be traced by torch.fx ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
                "wrap the untraceable part in a leaf module (tracer_kwargs={'leaf_modules': [...]})"
            ) from error
        traced.eval()
        with torch.no_grad():
            ShapeProp(traced).propagate(probe)
        outputs = next(n for n in traced.graph.nodes if n.op == "output").args[0]
        self._position = {name: i for i, name in enumerate(self.node_names)}
        self._resolved: dict[str, str | None] = {}
        self.chain = self._chain_points(model, traced, {node: name for name, node in outputs.items()})

    def resolve(self, layer: str) -> str | None:
        """The full node name ``layer`` stands for: itself, or the last node of the module it
        names; ``None`` if it is neither (remembered: features are read at every iteration)."""
        if layer not in self._resolved:
            prefix = layer + "."
            matches = [name for name in self.node_names if name == layer or name.startswith(prefix)]
            self._resolved[layer] = (
                layer if layer in self._position else (max(matches, key=self._position.__getitem__) if matches else None)
            )
        return self._resolved[layer]

    def position(self, node: str) -> int:
        """Forward (topological) position of a full node name."""
        return self._position[node]

    def _chain_points(self, model: nn.Module, traced: fx.GraphModule, qualname: dict[fx.Node, str]) -> list[ChainPoint]:
        nodes = list(traced.graph.nodes)
        is_tensor = {n: isinstance(n.meta.get("tensor_meta"), TensorMetadata) for n in nodes}
        source = next(n for n in nodes if n.op == "placeholder")
        paths_in: dict[fx.Node, int] = {}
        for n in nodes:
            paths_in[n] = 1 if n is source else (sum(paths_in[a] for a in n.all_input_nodes if is_tensor[a]) if is_tensor[n] else 0)
        tensor_users = {n: [u for u in n.users if u.op != "output" and is_tensor[u]] for n in nodes}
        sinks = [n for n in nodes if is_tensor[n] and paths_in[n] and not tensor_users[n]]
        sink = sinks[-1]
        paths_out: dict[fx.Node, int] = {}
        for n in reversed(nodes):
            paths_out[n] = 1 if n is sink else sum(paths_out[u] for u in tensor_users[n])
        total = paths_in[sink]
        points = []
        for n in nodes:
            if n is source or not is_tensor[n] or paths_in[n] * paths_out[n] != total or n not in qualname:
                continue
            if n.op == "call_module" and isinstance(traced.get_submodule(n.target), _SKIPPED_MODULES):
                continue
            full = qualname[n]
            parts = full.split(".")
            alias = next(p for p in (".".join(parts[:k]) for k in range(1, len(parts) + 1)) if self.resolve(p) == full)
            points.append(_chain_point(model, alias, full, n))
        return points


def _chain_point(model: nn.Module, alias: str, full: str, node: fx.Node) -> ChainPoint:
    try:
        return ChainPoint(alias, full, type(model.get_submodule(alias)).__name__, True)
    except AttributeError:
        target = node.target
        return ChainPoint(alias, full, target if isinstance(target, str) else getattr(target, "__name__", str(target)), False)
