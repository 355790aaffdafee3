"""Lightning callbacks that make training faster without changing its maths (within float
reassociation): add them to a run's ``trainer.callbacks``.

* :class:`ChannelsLast` — the LightningModule's 4-d weights in channels-last memory order, so
  oneDNN / cuDNN run their NHWC convolution kernels (a convolution's output follows its weight's
  order). Measured in BENCHMARKS.md ("Training with the fast paths").
* :class:`CompileModules` — ``torch.compile`` of named submodules (in place, ``nn.Module.compile``),
  e.g. the inverting network's ``chain``; the frozen network is left eager.

Example (command line, or the same list under ``trainer.callbacks`` in a YAML config)::

    python train.py fit --config configs/default.yaml \\
        --trainer.callbacks+=deeprestore.training.ChannelsLast \\
        --trainer.callbacks+=deeprestore.training.CompileModules --trainer.callbacks.modules='[chain]'
"""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

__all__ = ["ChannelsLast", "CompileModules"]


class ChannelsLast(Callback):
    """Convert the LightningModule to channels-last memory order when a stage starts."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        pl_module.to(memory_format=torch.channels_last)


class CompileModules(Callback):
    """``torch.compile`` the LightningModule's submodules ``modules`` when a stage starts.

    Args:
        modules: attribute paths of the submodules (``get_submodule`` names).
        mode: ``torch.compile``'s ``mode`` (``"reduce-overhead"`` adds CUDA graphs on a GPU).

    Raises:
        ValueError (at setup): a name that is not a submodule of the LightningModule.
    """

    def __init__(self, modules: list[str] | None = None, mode: str | None = None) -> None:
        self.modules = list(modules) if modules is not None else ["chain"]
        self.mode = mode
        self._compiled: set[int] = set()

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        for name in self.modules:
            try:
                module = pl_module.get_submodule(name)
            except AttributeError:
                children = ", ".join(n for n, _ in pl_module.named_children())
                raise ValueError(
                    f"CompileModules: {type(pl_module).__name__} has no submodule {name!r}; its children: {children}"
                ) from None
            if id(module) not in self._compiled:
                module.compile(mode=self.mode)
                self._compiled.add(id(module))
