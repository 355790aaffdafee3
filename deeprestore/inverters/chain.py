"""A chain of inverse modules from a target layer back to the image.

``InverterChain`` holds one inverse module per :class:`Operation` (keyed by the layer the
operation outputs) and runs them from the target layer down to the image. Training modes differ
only in what each module is fed and where the loss is taken (see ``lightning_module.py``):

* parallel / stacked — each module is fed the true features of its operation's output;
* joint / end-to-end — each module is fed the previous module's reconstruction.
"""

from __future__ import annotations

from torch import Tensor, nn

from deeprestore.inverters.fc_decoder import VectorToMap, VectorToVector
from deeprestore.inverters.operations import IMAGE, Operation
from deeprestore.inverters.transposed_conv import TransposedConvInverse
from deeprestore.inverters.upsample_conv import UpsampleConvInverse

MODULE_TYPES = ("upsample", "transposed")


def inverse_module(
    op: Operation, module_type: str = "upsample", upsample_mode: str = "nearest", kernel_size: int = 3, width: float = 1.0
) -> nn.Module:
    """The inverse module for one operation.

    Args:
        op: the operation to undo.
        module_type: ``"upsample"`` (resize + conv + ReLU + conv) or ``"transposed"``
            (transposed conv + ReLU + conv) for every map-to-map operation (convolution + ReLU,
            pooling, LRN, MBConv block).
        upsample_mode: ``"nearest"`` or ``"bilinear"`` for resize-convolutions.
        kernel_size: kernel of the convolutions.
        width: multiplier on the hidden width (``max(C_in, C_out)`` channels at 1.0).

    Map-to-vector operations (``fc6`` from ``pool5``, global pooling) get :class:`VectorToMap`,
    vector-to-vector ones (``fc7``, ``fc8``) :class:`VectorToVector`.
    """
    if module_type not in MODULE_TYPES:
        raise ValueError(f"module_type must be one of {MODULE_TYPES}, got {module_type!r}")
    c_out, c_in = op.output_shape[0], op.input_shape[0]
    hidden = max(8, round(max(c_in, c_out) * width))
    out_is_vector, in_is_vector = len(op.output_shape) == 1, len(op.input_shape) == 1
    if out_is_vector and in_is_vector:
        return VectorToVector(c_out, c_in, hidden)
    if out_is_vector:
        seed = max(1, (op.input_shape[1] + 1) // 2)
        return VectorToMap(
            c_out, c_in, seed, hidden=min(4096, max(1024, hidden)), seed_channels=min(256, c_in), upsample_mode=upsample_mode
        )
    if module_type == "transposed":
        return TransposedConvInverse(c_out, c_in, hidden, op.scale, kernel_size)
    return UpsampleConvInverse(c_out, c_in, hidden, kernel_size, upsample_mode)


class InverterChain(nn.Module):
    """Inverse modules for a list of operations, applied from the last operation to the first.

    Args:
        ops: the network's operations from the image up to the target (forward order).
        module_type, upsample_mode, kernel_size, width: see :func:`inverse_module`.
    """

    def __init__(
        self, ops: list[Operation], module_type: str = "upsample", upsample_mode: str = "nearest", kernel_size: int = 3, width: float = 1.0
    ) -> None:
        super().__init__()
        self.ops = list(ops)
        self.inverse = nn.ModuleDict({op.name: inverse_module(op, module_type, upsample_mode, kernel_size, width) for op in ops})

    @property
    def target(self) -> str:
        """The layer the chain inverts."""
        return self.ops[-1].name

    def invert_one(self, op: Operation, features: Tensor, sizes: dict[str, tuple[int, int]]) -> Tensor:
        """Apply the inverse of one operation: features at ``op.name`` → ``op.input_layer``."""
        size = sizes.get(op.input_layer)
        return self.inverse[op.name](features, size)

    def forward(self, features: Tensor, sizes: dict[str, tuple[int, int]]) -> dict[str, Tensor]:
        """Chain every module from the target down to the image.

        Args:
            features: ``N×C×h×w`` (or ``N×D``) features at :attr:`target`.
            sizes: spatial size of every map-shaped layer of this input, and of ``"image"``.

        Returns:
            reconstruction at each operation's input layer, from just below the target down to
            ``"image"`` (the image in the network's normalised units).
        """
        out: dict[str, Tensor] = {}
        x = features
        for op in reversed(self.ops):
            x = self.invert_one(op, x, sizes)
            out[op.input_layer] = x
        return out


__all__ = ["IMAGE", "InverterChain", "MODULE_TYPES", "inverse_module"]
