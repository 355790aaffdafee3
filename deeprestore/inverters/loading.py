"""Load a ``train.py`` inverting network of any mode from its checkpoint, as data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deeprestore.checkpoint_files import TRUST_CHECKPOINTS, load_module_checkpoint, read_checkpoint
from deeprestore.inverters.deepsim import DeepSimInverter
from deeprestore.inverters.lightning_module import DEEPSIM, InvertingNetwork

__all__ = ["load_inverting_network"]


def load_inverting_network(path: str | Path, option: str = "inverter checkpoint", *, trusted: bool = False) -> InvertingNetwork:
    """A ``train.py`` inverting network (CPU, eval mode), read as data unless ``trusted``; ``option``
    names the file in errors. A ``deepsim`` checkpoint loads as its
    :class:`~deeprestore.inverters.deepsim.DeepSimInverter`. A ``stacked`` checkpoint holds its whole chain in the state dict, so it
    loads as ``parallel`` without re-assembling the chain from the parallel files it was stacked from.

    Raises:
        ValueError: not an :class:`InvertingNetwork` checkpoint (see :func:`~deeprestore.checkpoint_files.load_module_checkpoint`).
    """
    read = {"trusted": trusted, "trust_option": TRUST_CHECKPOINTS}
    mode = read_checkpoint(path, option, **read).get("hyper_parameters", {}).get("mode")
    overrides: dict[str, Any] = {"mode": "parallel", "parallel_checkpoints": None} if mode == "stacked" else {}
    if mode == DEEPSIM:
        return load_module_checkpoint(DeepSimInverter, path, option, **read).eval()
    return load_module_checkpoint(InvertingNetwork, path, option, **read, **overrides).eval()
