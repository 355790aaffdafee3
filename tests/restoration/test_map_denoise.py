"""MAP denoising against its closed form: with a quadratic prior the MAP estimate is a shrinkage."""

from __future__ import annotations

import pytest
import torch

from deeprestore.restoration.map_denoise import map_denoise


@pytest.mark.parametrize("stages", [(1.0,), (1 / 16, 1 / 4, 1.0)])
def test_a_quadratic_prior_gives_the_closed_form_shrinkage(stages):
    """E(x) = μ/2 ‖x‖²: argmin λ/(2σ²)‖x − y‖² + E(x) = (λ/σ²) y / (λ/σ² + μ), whatever the continuation."""
    noisy = 50 * torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    sigma, weight, mu = 25.0, 2.0, 0.01
    estimate = map_denoise(noisy, lambda x: 0.5 * mu * x.pow(2).flatten(1).sum(1), sigma, weight, stages=stages)
    data = weight / sigma**2
    torch.testing.assert_close(estimate, data * noisy / (data + mu), rtol=1e-6, atol=1e-6)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="sigma and weight must be positive"):
        map_denoise(torch.zeros(1, 1, 4, 4), lambda x: x.sum((1, 2, 3)), sigma=0.0)
    with pytest.raises(ValueError, match="NaN or inf"):
        map_denoise(torch.full((1, 1, 4, 4), float("nan")), lambda x: x.sum((1, 2, 3)), sigma=1.0)
