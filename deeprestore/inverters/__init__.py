"""Inverting networks (Dosovitskiy & Brox 2016) built from one module per network operation."""

from deeprestore.inverters.chain import MODULE_TYPES, InverterChain, inverse_module
from deeprestore.inverters.lightning_module import MODES, InvertingNetwork
from deeprestore.inverters.operations import IMAGE, Operation, network_operations

__all__ = ["IMAGE", "MODES", "MODULE_TYPES", "InverterChain", "InvertingNetwork", "Operation", "inverse_module", "network_operations"]
