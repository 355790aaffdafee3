"""The network zoo by name."""

from __future__ import annotations

from collections.abc import Callable

from deeprestore.nets.efficientnet_lite0 import efficientnet_lite0
from deeprestore.nets.layered_network import LayeredNetwork
from deeprestore.nets.torchvision_nets import alexnet, vgg16

NETWORKS: dict[str, Callable[..., LayeredNetwork]] = {
    "alexnet": alexnet,
    "vgg16": vgg16,
    "efficientnet_lite0": efficientnet_lite0,
}


def load_network(name: str, weights: str = "pretrained", seed: int = 0) -> LayeredNetwork:
    """Build a zoo network, frozen and in evaluation mode.

    Args:
        name: ``"alexnet"``, ``"vgg16"`` or ``"efficientnet_lite0"``.
        weights: ``"pretrained"``, a path to a state dict, or ``"random"`` (plumbing tests only).
        seed: initialisation seed, used with ``weights="random"``.

    Raises:
        ValueError: for an unknown network name (the message lists the zoo).
        FileNotFoundError: when pretrained weights are not on disk (the message says how to get them).
    """
    key = name.lower().replace("-", "_")
    if key not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; the zoo has: {', '.join(NETWORKS)}")
    return NETWORKS[key](weights=weights, seed=seed)
