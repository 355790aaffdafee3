"""A frozen classifier cut into named stages, one per canonical layer.

Every zoo network (AlexNet, VGG16, EfficientNet-Lite0) is a :class:`LayeredNetwork`: an ordered
list of stages, each an ``nn.Module`` that maps the previous stage's output to the next. The
stage names are the canonical layer names (``conv1 … fc8``, ``stem block1 … fc``), so reading the
representation at a layer means running the stages up to it and no further.

The wrapper owns the network's input normalisation: callers hand it images in ``[0, 1]``
(``N×3×H×W``) and never see the network's own units.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

#: What a stage does, as the inverting networks and the jitter schedule need to know it.
LAYER_KINDS = ("conv", "relu", "pool", "lrn", "mbconv", "global_pool", "fc")


@dataclass(frozen=True)
class LayerInfo:
    """One row of :meth:`LayeredNetwork.layer_table`.

    Attributes:
        name: canonical layer name.
        kind: one of :data:`LAYER_KINDS`.
        shape: output shape without the batch dimension, ``(C, H, W)`` or ``(D,)``.
        stride: input pixels per output pixel (``input_size / H``), ``None`` for vectors.
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    stride: float | None


class LayeredNetwork(nn.Module):
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
        super().__init__()
        unknown = {k for k in kinds.values() if k not in LAYER_KINDS}
        if unknown or set(kinds) != set(stages):
            raise ValueError(f"bad layer kinds for {name}: {kinds}")
        self.name = name
        self.stages = nn.ModuleDict(stages)
        self.kinds = dict(kinds)
        self.weights = weights
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.eval()
        self.requires_grad_(False)

    # -- naming -----------------------------------------------------------------------------
    @property
    def layer_names(self) -> list[str]:
        """Canonical layer names in forward order."""
        return list(self.stages.keys())

    def check_layer(self, layer: str) -> str:
        """Return ``layer`` if it is a layer of this network, else raise a ``ValueError``
        that lists the valid names."""
        if layer not in self.stages:
            raise ValueError(
                f"unknown layer {layer!r} for {self.name}; valid layers: {', '.join(self.layer_names)}"
            )
        return layer

    def index(self, layer: str) -> int:
        """Position of ``layer`` in forward order (0 for the first stage)."""
        return self.layer_names.index(self.check_layer(layer))

    def previous_layer(self, layer: str) -> str | None:
        """The layer whose output feeds ``layer``; ``None`` when it is the image."""
        i = self.index(layer)
        return self.layer_names[i - 1] if i > 0 else None

    # -- forward ----------------------------------------------------------------------------
    def train(self, mode: bool = True) -> LayeredNetwork:
        """The network stays in evaluation mode: it is a frozen feature extractor."""
        return super().train(False)

    def normalize(self, images: Tensor) -> Tensor:
        """``[0, 1]`` images ``N×3×H×W`` → the network's input units."""
        return (images - self.mean.to(images.dtype)) / self.std.to(images.dtype)

    def features(self, images: Tensor, layers: str | Sequence[str]) -> dict[str, Tensor]:
        """Features at one or several layers in one pass.

        Runs the stages only up to the deepest layer asked for.

        Args:
            images: ``N×3×H×W`` in ``[0, 1]``.
            layers: a canonical name or a sequence of them.

        Returns:
            layer name → feature tensor (``N×C×h×w`` or ``N×D``), in the order asked for.
        """
        wanted = [layers] if isinstance(layers, str) else list(layers)
        if not wanted:
            raise ValueError("no layers asked for")
        for layer in wanted:
            self.check_layer(layer)
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images N×3×H×W, got shape {tuple(images.shape)}")
        return self.run(self.normalize(images), None, wanted)

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

    def forward(self, images: Tensor) -> Tensor:
        """Class logits for ``[0, 1]`` images ``N×3×H×W`` → ``N×1000``."""
        return self.run(self.normalize(images), None, [self.layer_names[-1]])[self.layer_names[-1]]

    # -- description ------------------------------------------------------------------------
    @torch.no_grad()
    def output_shape(self, layer: str, input_size: int | tuple[int, int] = 224) -> tuple[int, ...]:
        """``layer``'s output shape without the batch dimension (``(C, H, W)`` or ``(D,)``) for an
        input of ``input_size``; runs the stages up to ``layer`` only."""
        h, w = (input_size, input_size) if isinstance(input_size, int) else input_size
        probe = torch.zeros(1, 3, h, w, device=self.mean.device)
        return tuple(self.features(probe, layer)[layer].shape[1:])

    @torch.no_grad()
    def layer_table(self, input_size: int | tuple[int, int] = 224) -> list[LayerInfo]:
        """Every layer with its kind, output shape and stride for a given input size."""
        h, w = (input_size, input_size) if isinstance(input_size, int) else input_size
        probe = torch.zeros(1, 3, h, w, device=self.mean.device)
        feats = self.features(probe, self.layer_names)
        rows = []
        for name, f in feats.items():
            shape = tuple(f.shape[1:])
            stride = h / shape[1] if len(shape) == 3 else None
            rows.append(LayerInfo(name, self.kinds[name], shape, stride))
        return rows

    def describe(self, input_size: int | tuple[int, int] = 224) -> str:
        """:meth:`layer_table` as an aligned text table."""
        lines = [f"{self.name} ({self.weights}), input {input_size}", f"{'layer':<10}{'kind':<12}{'shape':<20}stride"]
        for row in self.layer_table(input_size):
            stride = "-" if row.stride is None else f"{row.stride:g}"
            lines.append(f"{row.name:<10}{row.kind:<12}{'×'.join(map(str, row.shape)):<20}{stride}")
        return "\n".join(lines)
