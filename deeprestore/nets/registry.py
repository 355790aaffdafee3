"""Networks by name: the zoo, ``torchvision/<model>``, ``timm/<model>`` and ``module:callable``.

    load_network("efficientnet_lite0")                        # the zoo (weights shipped or cached)
    load_network("torchvision/resnet50")                      # any torchvision classifier
    load_network("timm/convnext_tiny.fb_in1k")                # any timm model (optional extra)
    load_network("my_project.models:build_net", "/path/weights.pth")   # your own module

A ``module:callable`` name imports ``module`` and calls ``callable()`` with no arguments; it may
return a :class:`FeatureNetwork` (used as it is) or a plain ``nn.Module`` classifier, wrapped as a
:class:`GraphNetwork` with ImageNet's input normalisation. ``weights`` is then ``"pretrained"``
(the module as the callable builds it), a path to a state dict loaded onto it, or ``"random"``
(the callable is run under ``seed``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from deeprestore.nets.alexnet_vgg16 import alexnet, vgg16
from deeprestore.nets.efficientnet_lite import efficientnet_lite0, efficientnet_lite1, efficientnet_lite2
from deeprestore.nets.feature_network import FeatureNetwork
from deeprestore.nets.graph_network import GraphNetwork
from deeprestore.nets.timm_models import TIMM_PREFIX, timm_network
from deeprestore.nets.torchvision_models import TORCHVISION_PREFIX, torchvision_network
from deeprestore.nets.weights import IMAGENET_MEAN, IMAGENET_STD, apply_state_dict, load_state_dict

__all__ = ["NETWORKS", "load_network", "network_from_module"]

NETWORKS: dict[str, Callable[..., FeatureNetwork]] = {
    "alexnet": alexnet,
    "vgg16": vgg16,
    "efficientnet_lite0": efficientnet_lite0,
    "efficientnet_lite1": efficientnet_lite1,
    "efficientnet_lite2": efficientnet_lite2,
}


def network_from_module(
    model: nn.Module, name: str = "custom", *, mean=IMAGENET_MEAN, std=IMAGENET_STD, weights: str = "user module", **options
) -> GraphNetwork:
    """Your own classifier as a network of the zoo (a :class:`GraphNetwork`).

    Args:
        model: normalised ``N×3×H×W`` images → ``N×K`` logits, traceable by ``torch.fx``.
        name: the name reports use.
        mean, std: the input normalisation it was trained with, for ``[0, 1]`` RGB.
        weights: where its weights came from, for reports.
        options: passed to :class:`GraphNetwork` (``layers``, ``token_layout``, ``input_size``).
    """
    return GraphNetwork(name, model, mean, std, weights, **options)


def _from_callable(name: str, weights: str, seed: int) -> FeatureNetwork:
    module_name, _, attribute = name.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"network {name!r}: cannot import {attribute!r} from {module_name!r} ({error})") from error
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        built = factory()
    model = built.model if isinstance(built, GraphNetwork) else built
    if not isinstance(model, nn.Module):
        raise ValueError(f"network {name!r}: {attribute}() returned a {type(built).__name__}, not an nn.Module")
    source = f"random (seed {seed})" if weights == "random" else f"{name}()"
    if weights not in ("pretrained", "random"):
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"{name} weights file {path} does not exist (weights='pretrained' keeps the module as {attribute}() builds it)"
            )
        apply_state_dict(model, load_state_dict(path), path, name)
        source = str(path)
    if isinstance(built, FeatureNetwork):
        built.weights = source
        return built
    return network_from_module(model, name, weights=source)


def load_network(name: str, weights: str = "pretrained", seed: int = 0) -> FeatureNetwork:
    """Build a network, frozen and in evaluation mode.

    Args:
        name: a zoo name (:data:`NETWORKS`), ``torchvision/<model>``, ``timm/<model>`` or
            ``package.module:callable``.
        weights: ``"pretrained"``, a path to a state dict, or ``"random"`` (plumbing tests only);
            ``torchvision/…`` also takes a torchvision weights name (``IMAGENET1K_V1``).
        seed: initialisation seed, used with ``weights="random"``.

    Raises:
        ValueError: for an unknown network name (the message lists the zoo and the prefixes).
        FileNotFoundError: when pretrained weights are not on disk (the message says how to get them).
    """
    if name.startswith(TORCHVISION_PREFIX):
        return torchvision_network(name[len(TORCHVISION_PREFIX) :], weights, seed)
    if name.startswith(TIMM_PREFIX):
        return timm_network(name[len(TIMM_PREFIX) :], weights, seed)
    if ":" in name:
        return _from_callable(name, weights, seed)
    key = name.lower().replace("-", "_")
    if key not in NETWORKS:
        raise ValueError(
            f"unknown network {name!r}; the zoo has: {', '.join(NETWORKS)}; or torchvision/<model>, timm/<model>, package.module:callable"
        )
    return NETWORKS[key](weights=weights, seed=seed)
