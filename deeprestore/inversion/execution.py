"""How the network pass of an inversion runs: memory format, precision and compilation.

Almost all of an engine step is the frozen network's forward and backward pass (profile in
BENCHMARKS.md); the rest — the loss, the priors, the update — is a few element-wise operations
on the image. :class:`Execution` chooses how that pass runs; the results are the default path's
within the tolerances the tests check:

* ``fold_batchnorm``: a copy of the network with each batch norm that follows a convolution
  folded into it (:func:`~deeprestore.nets.batchnorm_folding.fold_batchnorm`). ``"auto"``: on for
  a network with batch norm.
* ``channels_last``: the network's 4-d weights and the input in channels-last memory order
  (oneDNN / cuDNN pick their NHWC kernels). ``"auto"``: on for a network with convolutions.
* ``precision``: ``"bf16"`` runs the network under :func:`torch.autocast` (bfloat16); the
  features come back as float32, so the feature loss and the priors stay float32.
* ``compile``: :func:`torch.compile` of the network pass (forward, and backward through
  AOTAutograd). ``"auto"`` compiles only where :data:`COMPILE_PAYS` records a measured gain for
  the device. A compiled pass is cached per ``(network, layers, execution)`` (:func:`network_pass`),
  so an inversion study compiles once per layer and batch shape, not once per batch.

Example::

    from deeprestore.inversion import Execution, invert
    invert(net, images, ["block4"], "mv2016", execution=Execution(precision="bf16", compile=True))
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn
from torch.profiler import record_function

from deeprestore.nets.batchnorm_folding import fold_batchnorm
from deeprestore.nets.feature_network import FeatureNetwork

__all__ = ["COMPILE_PAYS", "Execution", "NetworkPass", "network_pass", "runs_module_hooks"]

log = logging.getLogger(__name__)

#: Device type → whether ``torch.compile`` of the network pass was measured to pay there
#: (``benchmarks/inversion_throughput.py --paths eager compiled``; BENCHMARKS.md). Devices without a measurement run eager.
COMPILE_PAYS: dict[str, bool] = {"cpu": False}


@dataclass(frozen=True)
class Execution:
    """How the network pass runs (see the module docstring).

    Attributes:
        fold_batchnorm: ``True``, ``False`` or ``"auto"`` (on for a network with ``BatchNorm2d``).
        channels_last: ``True``, ``False`` or ``"auto"`` (on for a network with a ``Conv2d``).
        precision: ``"32"`` or ``"bf16"`` (autocast of the network; float32 loss and priors).
        compile: ``True``, ``False`` or ``"auto"`` (on where :data:`COMPILE_PAYS` says so).
        compile_mode: ``torch.compile``'s ``mode`` (``"reduce-overhead"`` adds CUDA graphs).
    """

    fold_batchnorm: bool | Literal["auto"] = "auto"
    channels_last: bool | Literal["auto"] = "auto"
    precision: Literal["32", "bf16"] = "32"
    compile: bool | Literal["auto"] = "auto"
    compile_mode: str | None = None

    def __post_init__(self) -> None:
        if self.fold_batchnorm not in (True, False, "auto"):
            raise ValueError(f"fold_batchnorm must be true, false or auto, got {self.fold_batchnorm!r}")
        if self.channels_last not in (True, False, "auto"):
            raise ValueError(f"channels_last must be true, false or auto, got {self.channels_last!r}")
        if self.precision not in ("32", "bf16"):
            raise ValueError(f"precision must be '32' or 'bf16', got {self.precision!r}")
        if self.compile not in (True, False, "auto"):
            raise ValueError(f"compile must be true, false or auto, got {self.compile!r}")

    def folds_batchnorm(self, net: nn.Module) -> bool:
        """Whether the pass folds ``net``'s batch norm into its convolutions."""
        if self.fold_batchnorm == "auto":
            return any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
        return bool(self.fold_batchnorm)

    def uses_channels_last(self, net: nn.Module) -> bool:
        """Whether the pass runs channels-last on ``net``."""
        if self.channels_last == "auto":
            return any(isinstance(m, nn.Conv2d) for m in net.modules())
        return bool(self.channels_last)

    def uses_compile(self, device: torch.device) -> bool:
        """Whether the pass is compiled on ``device``."""
        if self.compile == "auto":
            return COMPILE_PAYS.get(device.type, False)
        return bool(self.compile)

    def describe(self, net: nn.Module, device: torch.device) -> dict[str, object]:
        """What this execution resolves to on ``net`` and ``device`` (for a run's config)."""
        return {"fold_batchnorm": self.folds_batchnorm(net), "channels_last": self.uses_channels_last(net), "precision": self.precision, "compile": self.uses_compile(device),
                "compile_mode": self.compile_mode}


class NetworkPass(nn.Module):
    """``net.features(images, layers)`` run as an :class:`Execution` says: ``N×3×H×W`` in [0, 1]
    → layer name → float32 features ``N×…``.

    With batch norm folded, the pass runs a folded copy of the network; otherwise converting it to
    channels-last changes only how its weights are stored, not their values, and other users of
    the network see the same results (with NHWC kernels).
    """

    def __init__(self, net: FeatureNetwork, layers: Sequence[str], execution: Execution) -> None:
        super().__init__()
        self.layers, self.execution = list(layers), execution
        original = net
        if execution.folds_batchnorm(net):
            probe = torch.rand(2, 3, *net.probe_size(64), device=net.mean.device, dtype=net.mean.dtype,
                               generator=torch.Generator(device=net.mean.device).manual_seed(0))
            net = fold_batchnorm(net, probe, self.layers)
        self.folded = net is not original
        self.net = net
        self.channels_last = execution.uses_channels_last(net)
        if self.channels_last:
            net.to(memory_format=torch.channels_last)

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        autocast = torch.autocast(images.device.type, dtype=torch.bfloat16) if self.execution.precision == "bf16" else contextlib.nullcontext()
        with autocast, record_function("network.forward"):
            feats = self.net.features(images, self.layers)
        return {layer: value.float() for layer, value in feats.items()}


def network_pass(net: FeatureNetwork, layers: Sequence[str], execution: Execution | None = None) -> Callable[[Tensor], dict[str, Tensor]]:
    """The network pass for ``layers`` under ``execution`` (default: :class:`Execution` ()).

    Made once per ``(net, layers, execution)`` and reused, so a compiled pass is the same module
    on every batch and ``torch.compile`` compiles once per input shape.
    """
    execution = execution or Execution()
    device = net.mean.device
    key = (tuple(layers), execution)
    cached = net.__dict__.setdefault("_network_passes", {})  # lives and dies with the network
    if key not in cached:
        module = NetworkPass(net, layers, execution)
        if execution.uses_compile(device):
            log.info("compiling the network pass of %s at %s (mode %s)", net.name, "+".join(layers), execution.compile_mode or "default")
            cached[key] = torch.compile(module, mode=execution.compile_mode, dynamic=False)
        else:
            cached[key] = module
    return cached[key]


def runs_module_hooks(network_pass: Callable[[Tensor], dict[str, Tensor]]) -> bool:
    """Whether hooks on the original network's modules run in ``network_pass``: not in a folded
    copy, and not in a compiled pass."""
    return isinstance(network_pass, NetworkPass) and not network_pass.folded
