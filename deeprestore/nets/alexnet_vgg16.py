"""AlexNet and VGG16 from torchvision, cut into stages with canonical layer names.

The architectures are torchvision's own (``torchvision.models.alexnet`` and ``vgg16``), so a
torchvision state dict loads unchanged; only the order of execution is re-expressed as named
stages. torchvision's AlexNet is the "one weird trick" variant (Krizhevsky 2014) without local
response normalisation, so it has no ``norm`` layers.

Canonical names:

* AlexNet: ``conv1 relu1 pool1 conv2 relu2 pool2 conv3 relu3 conv4 relu4 conv5 relu5 pool5
  fc6 relu6 fc7 relu7 fc8``
* VGG16: ``conv1_1 relu1_1 conv1_2 relu1_2 pool1 … conv5_3 relu5_3 pool5 fc6 relu6 fc7 relu7 fc8``

``fc6`` includes torchvision's adaptive average pooling and the flattening (and AlexNet's
dropout, inactive in evaluation) in front of the first linear layer.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision import models

from deeprestore.nets.layered_network import LayeredNetwork
from deeprestore.nets.weights import IMAGENET_MEAN, IMAGENET_STD, WeightsSpec, apply_state_dict, load_state_dict, resolve_weights_file

ALEXNET_WEIGHTS = WeightsSpec(
    file_name="alexnet-owt-7be5be79.pth",
    url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    source="torchvision AlexNet_Weights.IMAGENET1K_V1 (top-1 56.5%)",
)
VGG16_WEIGHTS = WeightsSpec(
    file_name="vgg16-397923af.pth",
    url="https://download.pytorch.org/models/vgg16-397923af.pth",
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    source="torchvision VGG16_Weights.IMAGENET1K_V1 (top-1 71.6%)",
)

ALEXNET_LAYERS = ("conv1 relu1 pool1 conv2 relu2 pool2 conv3 relu3 conv4 relu4 conv5 relu5 pool5 fc6 relu6 fc7 relu7 fc8").split()

_VGG16_BLOCKS = (2, 2, 3, 3, 3)
VGG16_LAYERS = [
    name
    for block, convs in enumerate(_VGG16_BLOCKS, start=1)
    for name in [n for i in range(1, convs + 1) for n in (f"conv{block}_{i}", f"relu{block}_{i}")] + [f"pool{block}"]
] + "fc6 relu6 fc7 relu7 fc8".split()


def _kind(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        return "conv"
    if isinstance(module, nn.ReLU):
        return "relu"
    if isinstance(module, nn.MaxPool2d):
        return "pool"
    if isinstance(module, nn.LocalResponseNorm):
        return "lrn"
    raise TypeError(f"unexpected module {module}")


def _build(name: str, model: nn.Module, names: list[str], fc_stages: list[nn.Module], spec: WeightsSpec, weights: str) -> LayeredNetwork:
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False  # an in-place ReLU would overwrite the features returned for the layer before it
    conv_part = list(model.features)
    n_conv = len(conv_part)
    stages: OrderedDict[str, nn.Module] = OrderedDict(zip(names[:n_conv], conv_part))
    kinds = {n: _kind(m) for n, m in stages.items()}
    for stage_name, stage in zip(names[n_conv:], fc_stages):
        stages[stage_name] = stage
        kinds[stage_name] = "relu" if isinstance(stage, nn.ReLU) else "fc"
    return LayeredNetwork(name, stages, kinds, spec.mean, spec.std, weights)


def _make(builder, spec: WeightsSpec, network: str, weights: str, seed: int) -> tuple[nn.Module, str]:
    if weights == "random":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = builder(weights=None)
        return model, f"random (seed {seed})"
    path = resolve_weights_file(weights, spec, network)
    model = builder(weights=None)
    apply_state_dict(model, load_state_dict(path), path, network)
    return model, str(path)


def alexnet(weights: str = "pretrained", seed: int = 0) -> LayeredNetwork:
    """torchvision's AlexNet as a :class:`LayeredNetwork` (Krizhevsky et al. 2012; 2014 variant).

    Args:
        weights: ``"pretrained"`` (torch hub cache), a path, or ``"random"``.
        seed: initialisation seed for ``weights="random"``.
    """
    model, source = _make(models.alexnet, ALEXNET_WEIGHTS, "alexnet", weights, seed)
    c = model.classifier  # Dropout, Linear, ReLU, Dropout, Linear, ReLU, Linear
    fc = [
        nn.Sequential(model.avgpool, nn.Flatten(1), c[0], c[1]),
        c[2],
        nn.Sequential(c[3], c[4]),
        c[5],
        c[6],
    ]
    return _build("alexnet", model, ALEXNET_LAYERS, fc, ALEXNET_WEIGHTS, source)


def vgg16(weights: str = "pretrained", seed: int = 0) -> LayeredNetwork:
    """torchvision's VGG16 (configuration D, no batch norm) as a :class:`LayeredNetwork`
    (Simonyan & Zisserman 2015).

    Args:
        weights: ``"pretrained"`` (torch hub cache), a path, or ``"random"``.
        seed: initialisation seed for ``weights="random"``.
    """
    model, source = _make(models.vgg16, VGG16_WEIGHTS, "vgg16", weights, seed)
    c = model.classifier  # Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear
    fc = [
        nn.Sequential(model.avgpool, nn.Flatten(1), c[0]),
        c[1],
        nn.Sequential(c[2], c[3]),
        c[4],
        nn.Sequential(c[5], c[6]),
    ]
    return _build("vgg16", model, VGG16_LAYERS, fc, VGG16_WEIGHTS, source)
