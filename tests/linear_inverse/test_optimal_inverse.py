"""The MAP inverse of eq. 2 and the pseudo-inverse against independent identities."""

from __future__ import annotations

import pytest
import torch

from deeprestore.linear_inverse import gaussian_moments, linear_mmse_inverse, map_inverse, pseudo_inverse


def _random(m: int, n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(m, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_the_map_inverse_equals_the_push_through_form():
    """(I/λ + WᵀW)⁻¹Wᵀ = Wᵀ(I/λ + WWᵀ)⁻¹, solved in the other space."""
    w, lam = _random(5, 8), 3.0
    expected = w.T @ torch.linalg.inv(torch.eye(5, dtype=torch.float64) / lam + w @ w.T)
    assert torch.allclose(map_inverse(w, torch.eye(8, dtype=torch.float64), lam), expected, atol=1e-12)


def test_the_map_inverse_is_the_posterior_mean_of_a_gaussian_prior():
    """With x ~ N(0, Σ) and noise of covariance I/λ: E[x | f] = ΣWᵀ(WΣWᵀ + I/λ)⁻¹ f."""
    w, lam = _random(6, 4, 1), 0.5
    a = _random(4, 4, 2)
    sigma = a @ a.T + 0.1 * torch.eye(4, dtype=torch.float64)
    posterior_mean = sigma @ w.T @ torch.linalg.inv(w @ sigma @ w.T + torch.eye(6, dtype=torch.float64) / lam)
    assert torch.allclose(map_inverse(w, sigma, lam), posterior_mean, atol=1e-10)


def test_a_strong_feature_term_gives_the_pseudo_inverse_of_a_tall_matrix():
    w = _random(9, 4, 3)
    assert torch.allclose(map_inverse(w, torch.eye(4, dtype=torch.float64), 1e12), pseudo_inverse(w), atol=1e-8)


def test_the_pseudo_inverse_meets_the_four_moore_penrose_conditions():
    w = _random(4, 3, 4) @ _random(3, 7, 5)  # rank 3
    p = pseudo_inverse(w)
    assert torch.allclose(w @ p @ w, w, atol=1e-10) and torch.allclose(p @ w @ p, p, atol=1e-10)
    assert torch.allclose((w @ p).T, w @ p, atol=1e-10) and torch.allclose((p @ w).T, p @ w, atol=1e-10)


def test_shapes_and_strengths_that_do_not_fit_are_refused():
    with pytest.raises(ValueError, match="the prior covariance must be 8×8"):
        map_inverse(_random(5, 8), torch.eye(5), 1.0)
    with pytest.raises(ValueError, match="the strength λ must be positive"):
        map_inverse(_random(5, 8), torch.eye(8), 0.0)
    with pytest.raises(ValueError, match="W must be a floating-point m×n matrix"):
        pseudo_inverse(torch.ones(3, dtype=torch.int64))


def test_the_mmse_inverse_of_the_gaussian_moments_is_the_map_inverse():
    g = torch.Generator().manual_seed(5)
    w = torch.randn(7, 5, generator=g, dtype=torch.float64)
    a = torch.randn(5, 9, generator=g, dtype=torch.float64)
    sigma = a @ a.T / 9 + 0.1 * torch.eye(5, dtype=torch.float64)
    assert torch.allclose(linear_mmse_inverse(*gaussian_moments(w, sigma, 3.0)), map_inverse(w, sigma, 3.0), atol=1e-10)
