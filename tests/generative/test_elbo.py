"""The negative ELBO's parts against torch.distributions and by hand."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from deeprestore.generative.elbo import gaussian_kl, negative_elbo


def test_the_kl_is_torchs_and_the_elbo_weighs_its_terms():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(3, 2, 4, 4, generator=g), torch.randn(3, 2, 4, 4, generator=g)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).flatten(1).sum(1)
    torch.testing.assert_close(gaussian_kl(mu, logvar), expected)
    squared, kl = torch.tensor([2.0, 4.0]), torch.tensor([1.0, 3.0])
    assert float(negative_elbo(squared, kl, 0.5, 0.1)) == pytest.approx((2 / (2 * 0.25) + 0.1 * 1 + 4 / (2 * 0.25) + 0.1 * 3) / 2)
