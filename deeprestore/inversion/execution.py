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
  features come back as float32, so the feature loss and the priors stay float32. ``"32"`` runs
  it in float32 even inside an autocast region. ``"auto"`` (the default) follows the Trainer a
  study runs under (:meth:`Execution.for_trainer_precision`: bf16 under ``bf16-mixed``), and is
  float32 where there is none.
* ``compile``: :func:`torch.compile` of the network pass (forward, and backward through
  AOTAutograd). ``"auto"`` compiles only where :data:`COMPILE_PAYS` records a measured gain for
  the device. A compiled pass is cached per ``(network, layers, execution)`` (:func:`network_pass`),
  so an inversion study compiles once per layer and batch shape, not once per batch.

Example::

    from deeprestore.inversion import Execution, invert
    invert(net, images, ["block4"], "mv2016", execution=Execution(precision="bf16", compile=True))
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import torch
from torch import Tensor, nn
from torch.profiler import record_function

from deeprestore.nets.batchnorm_folding import fold_batchnorm
from deeprestore.nets.feature_network import FeatureNetwork

__all__ = ["COMPILE_PAYS", "Execution", "NetworkPass", "NetworkPassCache", "network_pass", "runs_module_hooks"]

log = logging.getLogger(__name__)

#: Device type → whether ``torch.compile`` of the network pass was measured to pay there
#: (``benchmarks/inversion_throughput.py --paths eager compiled``; BENCHMARKS.md). Devices without a measurement run eager.
COMPILE_PAYS: dict[str, bool] = {"cpu": False}

#: ``torch.compile``'s per-call recompile count (torch ≥ 2.14; an older torch, such as a GPU
#: image's own, compiles without it and shares dynamo's limit of 8 over all the passes).
_ISOLATED_RECOMPILES: dict[str, bool] = (
    {"isolate_recompiles": True} if "isolate_recompiles" in inspect.signature(torch.compile).parameters else {}
)


@dataclass(frozen=True)
class Execution:
    """How the network pass runs (see the module docstring).

    Attributes:
        fold_batchnorm: ``True``, ``False`` or ``"auto"`` (on for a network with ``BatchNorm2d``).
        channels_last: ``True``, ``False`` or ``"auto"`` (on for a network with a ``Conv2d``).
        precision: ``"auto"``, ``"32"`` or ``"bf16"`` (autocast of the network; float32 loss and
            priors); ``"auto"``: the Trainer's (:meth:`for_trainer_precision`), else ``"32"``.
        compile: ``True``, ``False`` or ``"auto"`` (on where :data:`COMPILE_PAYS` says so).
        compile_mode: ``torch.compile``'s ``mode`` (``"reduce-overhead"`` adds CUDA graphs).
    """

    fold_batchnorm: bool | Literal["auto"] = "auto"
    channels_last: bool | Literal["auto"] = "auto"
    precision: Literal["auto", "32", "bf16"] = "auto"
    compile: bool | Literal["auto"] = "auto"
    compile_mode: str | None = None

    def __post_init__(self) -> None:
        if self.fold_batchnorm not in (True, False, "auto"):
            raise ValueError(f"fold_batchnorm must be true, false or auto, got {self.fold_batchnorm!r}")
        if self.channels_last not in (True, False, "auto"):
            raise ValueError(f"channels_last must be true, false or auto, got {self.channels_last!r}")
        if self.precision not in ("auto", "32", "bf16"):
            raise ValueError(f"precision must be 'auto', '32' or 'bf16', got {self.precision!r}")
        if self.compile not in (True, False, "auto"):
            raise ValueError(f"compile must be true, false or auto, got {self.compile!r}")

    @property
    def uses_bf16(self) -> bool:
        """Whether the network runs in bf16 (``"auto"`` outside a Trainer: no)."""
        return self.precision == "bf16"

    def for_trainer_precision(self, trainer_precision: str) -> Execution:
        """This execution with ``precision="auto"`` resolved against a Lightning Trainer's
        ``precision`` (``"bf16-mixed"``, ``"bf16-true"`` → ``"bf16"``; anything else → ``"32"``)."""
        if self.precision != "auto":
            return self
        return replace(self, precision="bf16" if str(trainer_precision).startswith("bf16") else "32")

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
        return {
            "fold_batchnorm": self.folds_batchnorm(net),
            "channels_last": self.uses_channels_last(net),
            "precision": "bf16" if self.uses_bf16 else "32",
            "compile": self.uses_compile(device),
            "compile_mode": self.compile_mode,
        }


class NetworkPass(nn.Module):
    """``net.features(images, layers)`` run as an :class:`Execution` says: ``N×3×H×W`` in [0, 1]
    → layer name → float32 features ``N×…``.

    With batch norm folded, the pass runs the network's folded copy (one per network and device,
    shared by every pass: :class:`NetworkPassCache`); otherwise converting it to channels-last
    changes only how its weights are stored, not their values, and other users of the network see
    the same results (with NHWC kernels).

    Precision (float32 where the maths needs it): only the network runs under bf16 autocast, and
    only with ``precision="bf16"``; with ``"32"`` the pass turns off any autocast it is called
    under (Lightning's ``bf16-mixed``), so the features are float32 whatever the caller's context.
    """

    def __init__(self, net: FeatureNetwork, layers: Sequence[str], execution: Execution, folded: FeatureNetwork | None = None) -> None:
        super().__init__()
        self.layers, self.execution = list(layers), execution
        self.folded = folded is not None and folded is not net
        self.net = folded if folded is not None else net
        self.channels_last = execution.uses_channels_last(self.net)
        if self.channels_last:
            self.net.to(memory_format=torch.channels_last)

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=self.execution.uses_bf16), record_function("network.forward"):
            feats = self.net.features(images, self.layers)
        return {layer: value.float() for layer, value in feats.items()}


class NetworkPassCache:
    """What :func:`network_pass` builds for one network: the passes by ``(layers, execution)`` and
    the batch-norm-folded copy of the network they share, all for one device and dtype.

    Kept on the network (``net.__dict__``) so it lives and dies with it, but it is derived state,
    not part of the network: a deep copy or a pickle of the network gets an empty cache (a folded
    copy must not carry the copies made before it: with the cache copied, every pass doubled the
    copies), and moving the network to another device or dtype empties it on the next lookup.
    Memory is therefore one folded copy per network, whatever the number of layers.
    """

    def __init__(self) -> None:
        self.placement: tuple[torch.device, torch.dtype] | None = None
        self.folded: FeatureNetwork | None = None
        self.passes: dict[tuple[tuple[str, ...], Execution], Callable[[Tensor], dict[str, Tensor]]] = {}

    def __deepcopy__(self, memo: dict) -> NetworkPassCache:
        return NetworkPassCache()

    def __reduce__(self) -> tuple[type, tuple]:
        return NetworkPassCache, ()

    @staticmethod
    def of(net: FeatureNetwork) -> NetworkPassCache:
        """The cache of ``net``, emptied if the network moved since it was filled."""
        cache = net.__dict__.get("_network_passes")
        if not isinstance(cache, NetworkPassCache):
            cache = net.__dict__["_network_passes"] = NetworkPassCache()
        placement = (net.mean.device, net.mean.dtype)
        if cache.placement != placement:
            cache.placement, cache.folded, cache.passes = placement, None, {}
        return cache

    def folded_network(self, net: FeatureNetwork) -> FeatureNetwork:
        """``net`` with its batch norm folded, made once (checked on a probe at every layer)."""
        if self.folded is None:
            device, dtype = net.mean.device, net.mean.dtype
            probe = torch.rand(
                2, 3, *net.probe_size(64), device=device, dtype=dtype, generator=torch.Generator(device=device).manual_seed(0)
            )
            self.folded = fold_batchnorm(net, probe, list(net.layer_names))
        return self.folded


def network_pass(net: FeatureNetwork, layers: Sequence[str], execution: Execution | None = None) -> Callable[[Tensor], dict[str, Tensor]]:
    """The network pass for ``layers`` under ``execution`` (default: :class:`Execution` ()).

    Made once per ``(net, layers, execution)`` on the network's current device and reused
    (:class:`NetworkPassCache`), so a compiled pass is the same module on every batch and
    ``torch.compile`` compiles once per input shape. Each compiled pass keeps its own recompile
    count (``isolate_recompiles``): the passes of a study's layers share one code object, whose
    limit of 8 recompiles would otherwise send the ninth layer back to eager.
    """
    execution = execution or Execution()
    device = net.mean.device
    cache = NetworkPassCache.of(net)
    key = (tuple(layers), execution)
    if key not in cache.passes:
        folded = cache.folded_network(net) if execution.folds_batchnorm(net) else None
        module = NetworkPass(net, layers, execution, folded)
        if execution.uses_compile(device):
            log.info("compiling the network pass of %s at %s (mode %s)", net.name, "+".join(layers), execution.compile_mode or "default")
            cache.passes[key] = torch.compile(module, mode=execution.compile_mode, dynamic=False, **_ISOLATED_RECOMPILES)
        else:
            cache.passes[key] = module
    return cache.passes[key]


def runs_module_hooks(network_pass: Callable[[Tensor], dict[str, Tensor]]) -> bool:
    """Whether hooks on the original network's modules run in ``network_pass``: not in a folded
    copy, and not in a compiled pass."""
    return isinstance(network_pass, NetworkPass) and not network_pass.folded
