"""PlainAdam: torch.optim.Adam's iterates, bit for bit, without Optimizer.step."""

from __future__ import annotations

import pytest
import torch

from deeprestore.plain_adam import PlainAdam


def test_plain_adam_iterates_equal_torch_adam_bit_for_bit():
    g = torch.Generator().manual_seed(0)
    target = torch.randn(6, 5, generator=g, dtype=torch.float64)
    start = torch.randn(6, 5, generator=g, dtype=torch.float64)
    ours = start.clone().requires_grad_(True)
    theirs = start.clone().requires_grad_(True)
    plain = PlainAdam(ours, betas=(0.8, 0.99), eps=1e-6)
    torch_adam = torch.optim.Adam([theirs], lr=0.1, betas=(0.8, 0.99), eps=1e-6, foreach=False)
    for i in range(50):
        lr = 0.1 * (1 - i / 60)  # a changing rate, as the schedules of CSGM and ILO set it
        for group in torch_adam.param_groups:
            group["lr"] = lr
        for x, step in ((ours, lambda lr=lr: plain.step(lr)), (theirs, torch_adam.step)):
            x.grad = None
            (x - target).pow(3).abs().sum().backward()
            step()
        assert torch.equal(ours, theirs), f"iterates differ at step {i}"
    assert (ours - target).abs().max() < (start - target).abs().max()


def test_plain_adam_needs_a_gradient_and_a_leaf():
    x = torch.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="no gradient"):
        PlainAdam(x).step(0.1)
    with pytest.raises(ValueError, match="leaf"):
        PlainAdam(x * 2)
