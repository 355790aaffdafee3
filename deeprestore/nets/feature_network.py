"""What every network of the zoo is to the rest of the project: a frozen classifier whose
representation can be read at named layers.

Two kinds implement it:

* :class:`~deeprestore.nets.layered_network.LayeredNetwork` — a network cut by hand into an
  ordered list of stages (AlexNet, VGG16, EfficientNet-Lite); it can also be run from any
  intermediate layer, which the modular inverting networks need;
* :class:`~deeprestore.nets.graph_network.GraphNetwork` — any ``nn.Module`` (torchvision, timm,
  your own), read at torchvision feature-extraction node names.

Callers hand a network images in ``[0, 1]`` (``N×3×H×W``) and never see its input normalisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = ["FeatureNetwork", "LayerInfo"]


@dataclass(frozen=True)
class LayerInfo:
    """One row of :meth:`FeatureNetwork.layer_table`.

    Attributes:
        name: layer name.
        kind: what the layer is: one of :data:`~deeprestore.nets.layered_network.LAYER_KINDS` for
            a :class:`~deeprestore.nets.layered_network.LayeredNetwork`, the module class or
            function name (``Bottleneck``, ``add``) for a
            :class:`~deeprestore.nets.graph_network.GraphNetwork`.
        shape: output shape without the batch dimension, ``(C, H, W)`` or ``(D,)``.
        stride: input pixels per output pixel (``input_size / H``), ``None`` for vectors.
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    stride: float | None


class FeatureNetwork(nn.Module):
    """A frozen network read at named layers (abstract: subclasses implement :meth:`extract`,
    :attr:`layer_names` and :meth:`layer_kind`).

    Args:
        name: network name (``"efficientnet_lite0"``, ``"torchvision/resnet50"`` …).
        mean, std: per-channel input normalisation applied to ``[0, 1]`` images.
        weights: where the weights came from (``"random (seed 0)"`` or a path).
        input_size: the only ``(H, W)`` the network accepts (a ViT's), ``None`` for any size.
    """

    def __init__(
        self, name: str, mean: Sequence[float], std: Sequence[float], weights: str, input_size: tuple[int, int] | None = None
    ) -> None:
        super().__init__()
        self.name = name
        self.weights = weights
        self.input_size = input_size
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    # -- to be implemented ------------------------------------------------------------------
    @property
    def layer_names(self) -> list[str]:
        """The network's layers in forward order (the last one gives the class logits)."""
        raise NotImplementedError

    @property
    def module_layers(self) -> list[str]:
        """The layers that are outputs of a module of the network (all of a layered network's),
        in forward order: what a study uses when no layers are given."""
        return self.layer_names

    @property
    def logits_layer(self) -> str:
        """The layer that gives the class logits."""
        return self.layer_names[-1]

    def layer_kind(self, layer: str) -> str:
        """What ``layer`` is (see :attr:`LayerInfo.kind`)."""
        raise NotImplementedError

    def extract(self, x: Tensor, layers: Sequence[str]) -> dict[str, Tensor]:
        """Features of the *normalised* images ``x`` at checked ``layers``, running only what
        they need."""
        raise NotImplementedError

    # -- naming -----------------------------------------------------------------------------
    def check_layer(self, layer: str) -> str:
        """Return ``layer`` if it is a layer of this network, else raise a ``ValueError``
        that lists the valid names."""
        if layer not in self.layer_names:
            raise ValueError(f"unknown layer {layer!r} for {self.name}; valid layers: {', '.join(self.layer_names)}")
        return layer

    def index(self, layer: str) -> int:
        """Position of ``layer`` in forward order (0 for the first)."""
        return self.layer_names.index(self.check_layer(layer))

    # -- forward ----------------------------------------------------------------------------
    def train(self, mode: bool = True) -> FeatureNetwork:
        """The network stays in evaluation mode: it is a frozen feature extractor."""
        return super().train(False)

    def normalize(self, images: Tensor) -> Tensor:
        """``[0, 1]`` images ``N×3×H×W`` → the network's input units."""
        return (images - self.mean.to(images.dtype)) / self.std.to(images.dtype)

    def check_input(self, images: Tensor) -> None:
        """Raise a ``ValueError`` unless ``images`` is ``N×3×H×W`` of a size the network accepts."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images N×3×H×W, got shape {tuple(images.shape)}")
        if self.input_size is not None and tuple(images.shape[-2:]) != tuple(self.input_size):
            h, w = self.input_size
            raise ValueError(
                f"{self.name} takes {h}×{w} images only, got {images.shape[-2]}×{images.shape[-1]} (use --images.crop_size {h})"
            )

    def features(self, images: Tensor, layers: str | Sequence[str]) -> dict[str, Tensor]:
        """Features at one or several layers in one pass, running the network only as far as
        the deepest of them needs.

        Args:
            images: ``N×3×H×W`` in ``[0, 1]``.
            layers: a layer name or a sequence of them.

        Returns:
            layer name → feature tensor (``N×C×h×w`` or ``N×D``), in the order asked for.
        """
        wanted = [layers] if isinstance(layers, str) else list(layers)
        if not wanted:
            raise ValueError("no layers asked for")
        for layer in wanted:
            self.check_layer(layer)
        self.check_input(images)
        return self.extract(self.normalize(images), wanted)

    def forward(self, images: Tensor) -> Tensor:
        """Class logits for ``[0, 1]`` images ``N×3×H×W`` → ``N×K``."""
        return self.features(images, self.logits_layer)[self.logits_layer]

    # -- description ------------------------------------------------------------------------
    def probe_size(self, input_size: int | tuple[int, int]) -> tuple[int, int]:
        """``input_size`` as ``(H, W)``; a fixed-size network uses its own size."""
        if self.input_size is not None:
            return self.input_size
        return (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)

    @torch.no_grad()
    def output_shape(self, layer: str, input_size: int | tuple[int, int] = 224) -> tuple[int, ...]:
        """``layer``'s output shape without the batch dimension (``(C, H, W)`` or ``(D,)``) for an
        input of ``input_size``; runs only what ``layer`` needs."""
        probe = torch.zeros(1, 3, *self.probe_size(input_size), device=self.mean.device)
        return tuple(self.features(probe, layer)[layer].shape[1:])

    @torch.no_grad()
    def layer_table(self, input_size: int | tuple[int, int] = 224) -> list[LayerInfo]:
        """Every layer with its kind, output shape and stride for a given input size."""
        h, w = self.probe_size(input_size)
        feats = self.features(torch.zeros(1, 3, h, w, device=self.mean.device), self.layer_names)
        rows = []
        for name, f in feats.items():
            shape = tuple(f.shape[1:])
            rows.append(LayerInfo(name, self.layer_kind(name), shape, h / shape[1] if len(shape) == 3 else None))
        return rows

    def describe(self, input_size: int | tuple[int, int] = 224) -> str:
        """:meth:`layer_table` as an aligned text table."""
        rows = self.layer_table(input_size)
        width = max([len("layer"), *(len(r.name) for r in rows)]) + 2
        kinds = max([len("kind"), *(len(r.kind) for r in rows)]) + 2
        h, w = self.probe_size(input_size)
        lines = [f"{self.name} ({self.weights}), input {h}×{w}", f"{'layer':<{width}}{'kind':<{kinds}}{'shape':<20}stride"]
        for row in rows:
            stride = "-" if row.stride is None else f"{row.stride:g}"
            lines.append(f"{row.name:<{width}}{row.kind:<{kinds}}{'×'.join(map(str, row.shape)):<20}{stride}")
        return "\n".join(lines)
