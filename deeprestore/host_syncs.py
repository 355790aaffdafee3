"""Count the operations that make the host wait for a GPU, on any device (the CPU included).

On a GPU, the host queues kernels and runs ahead of them; it stops and waits when it needs a value
back (``bool(t)``, ``float(t)``, ``t.item()``, ``t.tolist()``), when an output's shape depends on
the data (``t[mask]``, ``nonzero``), and when it copies Python values into a new tensor on the
device (``x.new_tensor([…])``: a blocking copy from pageable memory). CUDA reports these itself
(``torch.cuda.set_sync_debug_mode("warn")``); :class:`HostSyncCounter` counts the same operations
through torch's dispatcher, so a test on the CPU can hold a loop to a budget of waits.

Tensors that live on the host on every machine — drawn from a CPU ``torch.Generator`` (the
engine's jitter and transform parameters), or computed from such tensors only — are not counted.

Example::

    with HostSyncCounter() as syncs:
        minimise(...)
    print(syncs.total, syncs.by_operation)
"""

from __future__ import annotations

import weakref
from collections import Counter
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

__all__ = ["HostSyncCounter"]

aten = torch.ops.aten

#: operations that read a value back to the host
_READS = {aten._local_scalar_dense.default}
#: operations whose output shape depends on the data
_DATA_SHAPED = {
    aten.nonzero.default,
    aten.masked_select.default,
    aten._unique2.default,
    aten.unique_consecutive.default,
    aten.unique_dim.default,
    aten.repeat_interleave.Tensor,
}
#: operations that make a tensor from Python values
_FROM_PYTHON = {aten.lift_fresh.default}
#: tensor methods that copy the whole tensor to Python or numpy (not dispatched to aten)
_TO_PYTHON = {torch.Tensor.tolist, torch.Tensor.numpy}


class _Dispatch(TorchDispatchMode):
    def __init__(self, owner: HostSyncCounter) -> None:
        super().__init__()
        self.owner = owner

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        tensors = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        generator = kwargs.get("generator")
        host = (isinstance(generator, torch.Generator) and generator.device.type == "cpu") or (
            bool(tensors) and all(self.owner.is_host(t) for t in tensors)
        )
        if host:
            for t in tree_leaves(out):
                if isinstance(t, torch.Tensor):
                    self.owner.mark_host(t)
            return out
        if func in _READS or func in _FROM_PYTHON or func in _DATA_SHAPED or (func is aten.index.Tensor and _has_mask(args)):
            self.owner.by_operation[str(func.overloadpacket.__name__)] += 1
        return out


def _has_mask(args: tuple) -> bool:
    return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in (args[1] if len(args) > 1 else ()) if i is not None)


class _Function(TorchFunctionMode):
    def __init__(self, owner: HostSyncCounter) -> None:
        super().__init__()
        self.owner = owner

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        if func in _TO_PYTHON and args and isinstance(args[0], torch.Tensor) and not self.owner.is_host(args[0]):
            self.owner.by_operation[func.__name__] += 1
        return func(*args, **(kwargs or {}))


class HostSyncCounter:
    """A context in which every operation that would make the host wait for a GPU is counted.

    Attributes:
        by_operation: operation name → count (``_local_scalar_dense`` is ``bool``/``float``/``item``,
            ``lift_fresh`` a tensor made from Python values, ``index`` a boolean mask, ``tolist`` …).
    """

    def __init__(self) -> None:
        self.by_operation: Counter[str] = Counter()
        self._host: set[int] = set()
        self._modes = (_Function(self), _Dispatch(self))

    def mark_host(self, t: torch.Tensor) -> None:
        """Record ``t`` as a tensor that lives on the host on every machine (by identity, while it lives)."""
        if id(t) not in self._host:
            self._host.add(id(t))
            weakref.finalize(t, self._host.discard, id(t))

    def is_host(self, t: torch.Tensor) -> bool:
        """Whether ``t`` lives on the host on every machine (drawn from a CPU generator, or computed from such tensors only)."""
        return id(t) in self._host

    @property
    def total(self) -> int:
        """All the waits counted."""
        return sum(self.by_operation.values())

    def __enter__(self) -> HostSyncCounter:
        for mode in self._modes:
            mode.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        for mode in reversed(self._modes):
            mode.__exit__(*exc)
