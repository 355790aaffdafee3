"""The operations of a network that the modular inverters undo, one inverse module each.

Following Harder (2017, §3.2) and Dosovitskiy & Brox (2016), a network is split into small
operations — a convolution with its non-linearity, a pooling, a local response normalisation, an
MBConv block, a fully connected layer with its ReLU — and each gets its own inverse module.
A convolution (or fully connected) stage and the ReLU right after it form one operation when
both lie at or before the target layer.
"""

from __future__ import annotations

from dataclasses import dataclass

from deeprestore.nets.layered_network import LayeredNetwork

#: name used for the image "layer", the input of the first operation.
IMAGE = "image"


@dataclass(frozen=True)
class Operation:
    """One invertible operation of a network.

    Attributes:
        name: the layer the operation outputs (also the key of its inverse module).
        kind: kind of its first stage (``conv``, ``pool``, ``lrn``, ``mbconv``, ``global_pool``, ``fc``, ``relu``).
        stages: the canonical layers it spans, e.g. ``("conv1", "relu1")``.
        input_layer: the layer it reads (``"image"`` for the first operation).
        input_shape: shape of its input without batch, at the probe size.
        output_shape: shape of its output without batch, at the probe size.
    """

    name: str
    kind: str
    stages: tuple[str, ...]
    input_layer: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]

    @property
    def scale(self) -> int:
        """Spatial up-sampling factor the inverse needs (1 for vectors or equal sizes)."""
        if len(self.input_shape) != 3 or len(self.output_shape) != 3:
            return 1
        return max(1, round(self.input_shape[1] / self.output_shape[1]))


def network_operations(net: LayeredNetwork, target: str, probe_size: int = 224) -> list[Operation]:
    """Split ``net`` from the image up to ``target`` into invertible operations.

    Args:
        net: the frozen network.
        target: the layer whose features are inverted.
        probe_size: input size at which shapes are recorded (channels do not depend on it).

    Returns:
        operations in forward order; the last one outputs ``target``.
    """
    last = net.index(target)
    table = net.layer_table(probe_size)[: last + 1]
    ops: list[Operation] = []
    input_layer, input_shape = IMAGE, (3, probe_size, probe_size)
    i = 0
    while i <= last:
        row = table[i]
        span = [row]
        if row.kind in ("conv", "fc") and i + 1 <= last and table[i + 1].kind == "relu":
            span.append(table[i + 1])
        out = span[-1]
        ops.append(Operation(out.name, row.kind, tuple(r.name for r in span), input_layer, input_shape, out.shape))
        input_layer, input_shape = out.name, out.shape
        i += len(span)
    return ops
