"""Scores against closed forms: an energy's, a trained DAE's residual for a Gaussian (Alain & Bengio's
theorem), a Gaussian prior on a linear layer's features pulled back, and their weighted sum."""

from __future__ import annotations

import torch

from deeprestore.priors import DenoisingAutoencoder
from deeprestore.sampling import dae_residual_score, energy_score, feature_map_score, weighted_score


def test_an_energys_score_is_minus_its_gradient():
    x = torch.randn(4, 3, dtype=torch.float64)
    assert torch.allclose(energy_score(lambda v: 0.5 * (v**2).sum(1) + v[:, 0])(x), -x - torch.tensor([1.0, 0, 0], dtype=torch.float64))


def test_a_trained_daes_residual_is_the_score_of_the_smoothed_density():
    # Data x ~ N(μ, s²I) in 2-D; the best denoiser at noise σ is μ + s²/(s²+σ²)(x̃ − μ), so
    # (r(x̃) − x̃)/σ² = −(x̃ − μ)/(s² + σ²): the score of N(μ, (s²+σ²)I). Train the project's DAE and compare.
    torch.manual_seed(0)
    mu, s, sigma = torch.tensor([0.5, -0.3]), 0.4, 0.2
    dae = DenoisingAutoencoder(channels=2, width=32, depth=2)
    optimiser = torch.optim.Adam(dae.parameters(), lr=3e-3)
    for _ in range(600):
        clean = (mu + s * torch.randn(256, 2)).view(256, 2, 1, 1)
        noisy = clean + sigma * torch.randn_like(clean)
        loss = (dae(noisy) - clean).square().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    probe = (mu + (s**2 + sigma**2) ** 0.5 * torch.randn(512, 2)).view(512, 2, 1, 1)
    estimate = dae_residual_score(dae, sigma)(probe)
    truth = -(probe - mu.view(1, 2, 1, 1)) / (s**2 + sigma**2)
    assert float((estimate - truth).square().mean() / truth.square().mean()) < 0.05


def test_a_feature_prior_pulled_back_through_a_linear_layer_is_the_closed_form():
    g = torch.Generator().manual_seed(2)
    a = torch.randn(5, 3, generator=g, dtype=torch.float64)
    m = torch.randn(5, generator=g, dtype=torch.float64)
    x = torch.randn(4, 3, generator=g, dtype=torch.float64)
    pulled = feature_map_score(lambda v: v @ a.T, lambda f: -(f - m))(x)  # N(m, I) on the features
    assert torch.allclose(pulled, -(x @ a.T - m) @ a)


def test_weights_add_scores():
    x = torch.randn(2, 3)
    combined = weighted_score([(2.0, lambda v: v), (0.5, lambda v: torch.ones_like(v))])(x)
    assert torch.allclose(combined, 2 * x + 0.5)
