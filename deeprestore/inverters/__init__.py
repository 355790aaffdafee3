"""Inverting networks (Dosovitskiy & Brox 2016) built from one module per network operation."""

from deeprestore.inverters.chain import MODULE_TYPES, InverterChain, inverse_module
from deeprestore.inverters.lightning_module import MODES, InvertingNetwork, load_inverting_network
from deeprestore.inverters.operations import IMAGE, Operation, network_operations

__all__ = [
    "IMAGE",
    "MODES",
    "MODULE_TYPES",
    "InverterChain",
    "InvertingNetwork",
    "Operation",
    "inverse_module",
    "load_inverting_network",
    "network_operations",
]
