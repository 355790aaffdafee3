"""Any torchvision classification model as a network of the zoo: ``torchvision/<model>``.

    net = load_network("torchvision/resnet50")                 # weights from the torch hub cache
    net = load_network("torchvision/vit_b_16", "IMAGENET1K_V1")
    net = load_network("torchvision/convnext_tiny", "/data/weights/convnext_tiny.pth")

``weights`` is one of:

* ``"pretrained"``: the model's default torchvision weights, or else any other of its published
  weights, found in the torch hub cache (``$TORCH_HOME/hub/checkpoints/``, where torchvision
  itself keeps them). A missing file is an error naming the file and where to get it; nothing is
  downloaded;
* the name of one of the model's weights (``IMAGENET1K_V1``), from the same cache;
* a path to a state dict for the model's default architecture;
* ``"random"``: seeded initialisation, for plumbing tests only.

The input normalisation is the weights' own (ImageNet's for every torchvision classifier). A
ViT takes only its training resolution (``image_size``; 224 for the ImageNet-1k weights).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision import models

from deeprestore.nets.graph_network import GraphNetwork
from deeprestore.nets.weights import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    WeightsSpec,
    apply_state_dict,
    hub_checkpoint_dir,
    load_state_dict,
    resolve_weights_file,
)

__all__ = ["TORCHVISION_PREFIX", "torchvision_classifiers", "torchvision_network"]

TORCHVISION_PREFIX = "torchvision/"


def torchvision_classifiers() -> list[str]:
    """The names of torchvision's classification models (``resnet50``, ``vit_b_16`` …)."""
    return models.list_models(module=models)


def _weights_enum(model: str):
    return models.get_model_weights(model)


def _cached_file(weights) -> Path:
    return hub_checkpoint_dir() / Path(weights.url).name


def _spec(weights) -> WeightsSpec:
    transform = weights.transforms()
    return WeightsSpec(
        file_name=Path(weights.url).name,
        url=weights.url,
        mean=tuple(transform.mean),
        std=tuple(transform.std),
        source=f"torchvision {weights}",
    )


def _published(model: str, weights: str):
    """The torchvision weights enum member ``weights`` stands for, checked to be in the cache."""
    enum = _weights_enum(model)
    if weights == "pretrained":
        candidates = [enum.DEFAULT] + [w for w in enum if w is not enum.DEFAULT]
        found = next((w for w in candidates if _cached_file(w).is_file()), None)
        if found is None:
            resolve_weights_file("pretrained", _spec(enum.DEFAULT), f"torchvision/{model}")  # raises, naming the file
        return found
    member = enum[weights]
    resolve_weights_file(str(_cached_file(member)), _spec(member), f"torchvision/{model}")
    return member


def torchvision_network(model: str, weights: str = "pretrained", seed: int = 0, **options) -> GraphNetwork:
    """``torchvision.models.<model>`` as a :class:`GraphNetwork` named ``torchvision/<model>``.

    Args:
        model: a name of :func:`torchvision_classifiers`.
        weights: see the module docstring.
        seed: initialisation seed for ``weights="random"``.
        options: passed to :class:`GraphNetwork` (``layers``, ``token_layout``).

    Raises:
        ValueError: unknown model or weights name, or a state dict for another architecture.
        FileNotFoundError: the weights are not on disk (the message says where to put them).
    """
    name = TORCHVISION_PREFIX + model
    if model not in torchvision_classifiers():
        raise ValueError(
            f"unknown torchvision classification model {model!r}; e.g. {', '.join(torchvision_classifiers()[:12])} …"
            " (torchvision.models.list_models(module=torchvision.models) lists them all)"
        )
    enum = _weights_enum(model)
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    if weights == "random":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net: nn.Module = models.get_model(model, weights=None)
        source = f"random (seed {seed})"
    elif weights == "pretrained" or weights in enum.__members__:
        published = _published(model, weights)
        net = models.get_model(model, weights=published)  # read from the hub cache, checked above
        spec = _spec(published)
        mean, std = spec.mean, spec.std
        source = str(_cached_file(published))
    elif weights.isidentifier():
        raise ValueError(
            f"unknown weights {weights!r} for {name}; valid: pretrained, random, a path, or one of {', '.join(enum.__members__)}"
        )
    else:
        path = resolve_weights_file(weights, _spec(enum.DEFAULT), name)
        net = models.get_model(model, weights=None)
        apply_state_dict(net, load_state_dict(path), path, name)
        source = str(path)
    image_size = getattr(net, "image_size", None)
    return GraphNetwork(
        name, net, mean, std, source, input_size=(image_size, image_size) if isinstance(image_size, int) else None, **options
    )
