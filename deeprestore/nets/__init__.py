"""Network zoo: frozen classifiers with canonical layer names and truncated feature extraction."""

from deeprestore.nets.efficientnet_lite0 import efficientnet_lite0
from deeprestore.nets.layered_network import LAYER_KINDS, LayeredNetwork, LayerInfo
from deeprestore.nets.registry import NETWORKS, load_network
from deeprestore.nets.torchvision_nets import alexnet, vgg16

__all__ = ["LAYER_KINDS", "LayeredNetwork", "LayerInfo", "NETWORKS", "alexnet", "efficientnet_lite0", "load_network", "vgg16"]
