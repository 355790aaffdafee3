"""Inverting networks (Dosovitskiy & Brox 2016) built from one module per network operation, and
their DeePSiM training (Dosovitskiy & Brox, NeurIPS 2016)."""

from deeprestore.inverters.chain import MODULE_TYPES, InverterChain, inverse_module
from deeprestore.inverters.deepsim import DeepSimInverter
from deeprestore.inverters.discriminator import FeatureConditionedDiscriminator
from deeprestore.inverters.lightning_module import DEEPSIM, MODES, InvertingNetwork
from deeprestore.inverters.loading import load_inverting_network
from deeprestore.inverters.operations import IMAGE, Operation, network_operations

__all__ = [
    "DEEPSIM",
    "IMAGE",
    "MODES",
    "MODULE_TYPES",
    "DeepSimInverter",
    "FeatureConditionedDiscriminator",
    "InverterChain",
    "InvertingNetwork",
    "Operation",
    "inverse_module",
    "load_inverting_network",
    "network_operations",
]
