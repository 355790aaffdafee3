"""HostSyncCounter counts what makes a GPU's host wait, on the CPU, and leaves host-only tensors alone."""

from __future__ import annotations

import torch

from deeprestore.host_syncs import HostSyncCounter


def test_each_kind_of_wait_is_counted_once():
    x = torch.randn(8)
    with HostSyncCounter() as syncs:
        bool((x > 0).all())
        float(x.sum())
        x[x > 0]
        torch.nonzero(x)
        x.new_tensor([1.0, 2.0])
        x.tolist()
    assert syncs.by_operation == {"_local_scalar_dense": 2, "index": 1, "nonzero": 1, "lift_fresh": 1, "tolist": 1}
    assert syncs.total == 6


def test_device_work_and_host_only_draws_are_not_waits():
    x = torch.randn(8)
    generator = torch.Generator().manual_seed(0)
    with HostSyncCounter() as syncs:
        torch.where(x > 0, x, 0.0).sum().mul_(2)
        offset = torch.randint(0, 4, (2,), generator=generator)
        offset.tolist()  # drawn from a CPU generator: on the host on every machine
        bool(torch.rand(1, generator=generator) < 0.5)
        int(offset[0] + 1)  # computed from host tensors only
    assert syncs.total == 0, syncs.by_operation
