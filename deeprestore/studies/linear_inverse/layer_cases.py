"""The layers the linear-inverse study inverts: a network's convolution (with its batch norm) or a
random one, its nonlinearity, its boundary, and the layer's input on photos.

A case names either a module of a network the project loads (``efficientnet_lite0``'s
``stages.stem.0`` with ``stages.stem.1``, its batch norm; ``alexnet``'s ``stages.conv1``), whose
input is what that module receives when the network runs on photos, or ``network: random``: a
convolution from the 3 normalised image channels with the given kernel, stride and output channels,
He-initialised from the study's seed. ``boundary: circular`` replaces the convolution's zero padding
by wrapping (odd kernels; the patch side a multiple of the stride), the case whose inverses are
known to be exactly convolutional.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deeprestore.linear_inverse import ConvolutionGrid
from deeprestore.nets import FeatureNetwork, load_network
from deeprestore.nets.weights import IMAGENET_MEAN, IMAGENET_STD
from deeprestore.studies.option_groups import InverterOptions

__all__ = ["LayerCase", "LinearLayer", "build_layer", "random_patches"]

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"none": lambda x: x, "relu": F.relu, "relu6": F.relu6}


@dataclass
class LayerCase:
    """One layer to invert.

    Args:
        network: ``random``, or a network name of :func:`~deeprestore.nets.load_network`.
        weights: that network's weights (``pretrained``, a state-dict path, ``random`` for plumbing).
        modules: the linear part, module paths inside the network run in order — a convolution and
            then, if any, its batch norm (``[stages.stem.0, stages.stem.1]``).
        nonlinearity: applied after the linear part: ``none``, ``relu`` or ``relu6``.
        size: the side of the input patches (``C·size²`` and the features' size must fit explicit matrices).
        boundary: ``zeros`` (the layer's own padding) or ``circular``.
        channels: ``network: random`` only: output channels (input: the 3 image channels).
        kernel: ``network: random`` only: the kernel side (odd).
        stride: ``network: random`` only: the stride.
        label: the case's name in the tables (default: built from the fields).
        inverter: an inverting network of this network whose target layer's output is this case's
            features (the whole stage: e.g. Lite0's ``stem`` is
            ``[stages.stem.0, stages.stem.1]`` with ``relu6``); its reconstruction is one more row.
    """

    network: str = "random"
    weights: str = "pretrained"
    modules: list[str] = field(default_factory=list)
    nonlinearity: Literal["none", "relu", "relu6"] = "none"
    size: int = 16
    boundary: Literal["zeros", "circular"] = "zeros"
    channels: int = 12
    kernel: int = 3
    stride: int = 1
    label: str = ""
    inverter: InverterOptions = field(default_factory=InverterOptions)

    def name(self) -> str:
        """The label, or one built from the fields."""
        if self.label:
            return self.label
        what = (
            f"random k{self.kernel} s{self.stride} 3→{self.channels}"
            if self.network == "random"
            else f"{self.network} {self.modules[0] if self.modules else '?'}"
        )
        extras = [
            e for e in (self.boundary if self.boundary != "zeros" else "", self.nonlinearity if self.nonlinearity != "none" else "") if e
        ]
        return " ".join([what, *extras])

    def check(self) -> None:
        """One line for a case that cannot run."""
        if self.size < 1:
            raise ValueError(f"case {self.name()}: size must be positive, got {self.size}")
        if self.network == "random":
            if self.kernel < 1 or self.kernel % 2 == 0 or self.stride < 1 or self.channels < 1:
                raise ValueError(
                    f"case {self.name()}: a random convolution needs an odd kernel and positive stride and channels, "
                    f"got kernel {self.kernel}, stride {self.stride}, channels {self.channels}"
                )
            if self.inverter.checkpoint is not None:
                raise ValueError(f"case {self.name()}: a random convolution has no trained inverter")
        elif not self.modules:
            raise ValueError(
                f"case {self.name()}: name the layer's modules inside {self.network} (e.g. modules: [stages.stem.0, stages.stem.1])"
            )


@dataclass
class LinearLayer:
    """A case made concrete.

    Attributes:
        linear: the affine part, ``N×C×size×size`` → ``N×C'×H'×W'``, float64, frozen.
        nonlinearity: the name of the elementwise nonlinearity after it (``none``, ``relu``, ``relu6``).
        grid: the shapes, stride and boundary (:class:`~deeprestore.linear_inverse.ConvolutionGrid`).
        kernel: the convolution's kernel side.
        inputs: ``[0, 1]`` photos ``N×3×S×S`` → the layer's input maps ``N×C×s×s`` on them (float64).
    """

    linear: nn.Module
    nonlinearity: str
    grid: ConvolutionGrid
    kernel: int
    inputs: Callable[[Tensor], Tensor]

    def features(self, x: Tensor) -> Tensor:
        """``φ(W x + b)`` of patches ``N×C×H×W`` (float64), flattened to ``N×m``."""
        with torch.no_grad():
            return ACTIVATIONS[self.nonlinearity](self.linear(x)).reshape(len(x), -1)


class _CircularConv(nn.Module):
    """A convolution with wrap-around padding of ``k // 2`` instead of its own."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: Tensor) -> Tensor:
        ph, pw = self.conv.kernel_size[0] // 2, self.conv.kernel_size[1] // 2
        padded = F.pad(x, (pw, pw, ph, ph), mode="circular")
        return F.conv2d(padded, self.conv.weight, self.conv.bias, self.conv.stride, 0, self.conv.dilation, self.conv.groups)


class _Captured(Exception):
    def __init__(self, value: Tensor) -> None:
        self.value = value


def _input_of(net: FeatureNetwork, module: nn.Module) -> Callable[[Tensor], Tensor]:
    """Photos → what ``module`` receives when ``net`` runs on them (the run stops there)."""

    def capture(_module: nn.Module, args: tuple) -> None:
        raise _Captured(args[0])

    @torch.no_grad()
    def inputs(photos: Tensor) -> Tensor:
        handle = module.register_forward_pre_hook(capture)
        try:
            net(photos.float())
        except _Captured as captured:
            return captured.value.double()
        finally:
            handle.remove()
        raise ValueError(f"{net.name} never ran the case's first module on the photos")

    return inputs


def _normalised(photos: Tensor) -> Tensor:
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float64).view(1, 3, 1, 1)
    return (photos.double() - mean) / std


def _network_modules(case: LayerCase) -> tuple[list[nn.Module], Callable[[Tensor], Tensor]]:
    net = load_network(case.network, case.weights)
    found = []
    for path in case.modules:
        try:
            found.append(net.get_submodule(path))
        except AttributeError:
            convs = [n for n, m in net.named_modules() if isinstance(m, nn.Conv2d)]
            raise ValueError(
                f"case {case.name()}: {case.network} has no module {path!r}; its convolutions: {', '.join(convs[:12])} …"
            ) from None
    if not isinstance(found[0], nn.Conv2d):
        raise ValueError(f"case {case.name()}: the first module must be a Conv2d, {case.modules[0]} is a {type(found[0]).__name__}")
    return found, _input_of(net, found[0])


def build_layer(case: LayerCase, seed: int = 0) -> LinearLayer:
    """The case's layer in float64, its grid at ``case.size``, and its inputs.

    Raises:
        ValueError: a case that cannot run (one line).
    """
    case.check()
    if case.network == "random":
        generator = torch.Generator().manual_seed(seed)
        conv = nn.Conv2d(3, case.channels, case.kernel, case.stride, case.kernel // 2, bias=False)
        fan_in = 3 * case.kernel**2
        conv.weight.data = torch.randn(conv.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5
        modules: list[nn.Module] = [conv]
        inputs = _normalised
    else:
        modules, inputs = _network_modules(case)
        conv = modules[0]
    kernel, stride = conv.kernel_size[0], conv.stride[0]
    if case.boundary == "circular":
        if kernel % 2 == 0 or case.size % stride:
            raise ValueError(
                f"case {case.name()}: a circular boundary needs an odd kernel and a size that is a multiple of the stride {stride}"
            )
        modules = [_CircularConv(conv), *modules[1:]]
    linear = nn.Sequential(*modules).double().eval().requires_grad_(False)
    with torch.no_grad():
        out = linear(torch.zeros(1, conv.in_channels, case.size, case.size, dtype=torch.float64))
    grid = ConvolutionGrid((conv.in_channels, case.size, case.size), tuple(out.shape[1:]), stride, circular=case.boundary == "circular")
    return LinearLayer(linear, case.nonlinearity, grid, kernel, inputs)


def random_patches(maps: Tensor, size: int, count: int, generator: torch.Generator) -> Tensor:
    """``count`` patches ``count×C×size×size`` at uniformly random positions of random maps of ``N×C×S×S``.

    Raises:
        ValueError: maps smaller than the patch.
    """
    n, _, h, w = maps.shape
    if h < size or w < size:
        raise ValueError(
            f"the layer's input maps are {h}×{w}, smaller than the patch size {size}: raise --photo_crop or lower the case's size"
        )
    which = torch.randint(n, (count,), generator=generator)
    top = torch.randint(h - size + 1, (count,), generator=generator)
    left = torch.randint(w - size + 1, (count,), generator=generator)
    return torch.stack([maps[i, :, t : t + size, s : s + size] for i, t, s in zip(which.tolist(), top.tolist(), left.tolist())])
