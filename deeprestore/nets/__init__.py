"""Network zoo: frozen classifiers read at named layers, running only what a layer needs."""

from deeprestore.nets.alexnet_vgg16 import alexnet, vgg16
from deeprestore.nets.efficientnet_lite import efficientnet_lite, efficientnet_lite0, efficientnet_lite1, efficientnet_lite2
from deeprestore.nets.feature_network import FeatureNetwork, LayerInfo
from deeprestore.nets.graph_network import GraphNetwork
from deeprestore.nets.layered_network import LAYER_KINDS, LayeredNetwork
from deeprestore.nets.registry import NETWORKS, load_network, network_from_module

__all__ = [
    "LAYER_KINDS",
    "FeatureNetwork",
    "GraphNetwork",
    "LayeredNetwork",
    "LayerInfo",
    "NETWORKS",
    "alexnet",
    "efficientnet_lite",
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
    "load_network",
    "network_from_module",
    "vgg16",
]
