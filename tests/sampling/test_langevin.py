"""Langevin chains on a Gaussian, whose law is known: ULA close to it, MALA exact within sampling error."""

from __future__ import annotations

import pytest
import torch

from deeprestore.sampling import annealed_langevin, energy_score, geometric_steps, langevin

MEAN = torch.tensor([1.0, -2.0], dtype=torch.float64)
COVARIANCE = torch.tensor([[1.0, 0.6], [0.6, 0.5]], dtype=torch.float64)
PRECISION = torch.linalg.inv(COVARIANCE)


def gaussian_energy(x: torch.Tensor) -> torch.Tensor:
    d = x - MEAN
    return 0.5 * ((d @ PRECISION) * d).sum(1)


def _chains(metropolis: bool, step: float, steps: int = 400, chains: int = 4000):
    g = torch.Generator().manual_seed(0)
    start = torch.randn(chains, 2, generator=g, dtype=torch.float64) * 3
    energy = gaussian_energy if metropolis else None
    return langevin(energy_score(gaussian_energy), start, [step] * steps, energy=energy, generator=g)


@pytest.mark.parametrize("metropolis", [False, True], ids=["ula", "mala"])
def test_the_chains_recover_the_gaussians_mean_and_covariance(metropolis):
    result = _chains(metropolis, step=0.05)
    samples = result.samples
    standard_error = (COVARIANCE.diagonal() / len(samples)).sqrt()
    assert bool(((samples.mean(0) - MEAN).abs() < 4 * standard_error).all())
    # ULA's stationary covariance is (I − εP/4)⁻¹Σ for a Gaussian: a few per cent high at ε = 0.05; MALA removes it
    tolerance = 0.12 if not metropolis else 0.06
    assert torch.allclose(torch.cov(samples.T), COVARIANCE, rtol=tolerance, atol=0.03)
    if metropolis:
        assert 0.8 < float(result.acceptance.mean()) < 1.0
    else:
        assert result.acceptance is None


def test_mala_accepts_less_as_the_step_grows_and_stays_exact():
    small, large = _chains(True, 0.05, steps=200), _chains(True, 0.3)
    assert float(large.acceptance.mean()) < float(small.acceptance.mean())
    assert torch.allclose(torch.cov(large.samples.T), COVARIANCE, rtol=0.08, atol=0.03)


def test_ulas_bias_is_the_known_one():
    # ULA's stationary covariance solves Σ∞ = (I − εP/2)Σ∞(I − εP/2)ᵀ + εI: at ε = 0.3 (stable below
    # 4/λmax(P) = 0.4) it is far from Σ, as theory says, and the chains find it
    eps = 0.3
    a = torch.eye(2, dtype=torch.float64) - eps / 2 * PRECISION
    expected = torch.linalg.solve(torch.eye(4, dtype=torch.float64) - torch.kron(a, a), eps * torch.eye(2, dtype=torch.float64).flatten())
    samples = _chains(False, eps).samples
    assert torch.allclose(torch.cov(samples.T), expected.reshape(2, 2), rtol=0.06, atol=0.03)
    assert not torch.allclose(expected.reshape(2, 2), COVARIANCE, rtol=0.2)


def test_records_and_annealed_steps():
    g = torch.Generator().manual_seed(1)
    steps = geometric_steps(0.5, 0.005, 30)
    assert steps[0] == 0.5 and abs(steps[-1] - 0.005) < 1e-12 and all(a > b for a, b in zip(steps, steps[1:]))
    result = langevin(energy_score(gaussian_energy), torch.zeros(5, 2, dtype=torch.float64), steps, generator=g,
                      record={"energy": gaussian_energy}, record_every=10)  # fmt: skip
    assert [t["step"] for t in result.trace] == [10, 20, 30] and result.trace[0]["energy"].shape == (5,)
    with pytest.raises(ValueError, match="must be positive"):
        geometric_steps(0.1, 0.0, 3)


def test_annealed_langevin_reaches_a_far_gaussian_through_its_smoothed_scores():
    """Song & Ermon's annealing: with the exact scores of ``N(μ, s²I)`` smoothed at each level
    (``−(x − μ)/(s² + σᵢ²)``), chains started 10 standard deviations away end with the law smoothed at
    the last level, ``N(μ, (s² + σ_L²) I)``; the trace counts steps across the levels."""
    mu, s2, sigmas = torch.tensor([1.0, -2.0], dtype=torch.float64), 0.25, [2.0, 0.5, 0.05]
    scores = [lambda x, v=s2 + sigma**2: -(x - mu) / v for sigma in sigmas]
    start = mu + 5.0 + torch.zeros(4000, 2, dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    result = annealed_langevin(scores, sigmas, start, 600, 2e-3, generator=generator, record={"x0": lambda x: x[:, 0]}, record_every=300)
    torch.testing.assert_close(result.samples.mean(0), mu, atol=0.03, rtol=0)
    torch.testing.assert_close(result.samples.var(0), torch.full((2,), s2 + sigmas[-1] ** 2, dtype=torch.float64), atol=0.02, rtol=0)
    assert [t["step"] for t in result.trace] == [300, 600, 900, 1200, 1500, 1800] and result.acceptance is None
    with pytest.raises(ValueError, match="fall strictly"):
        annealed_langevin(scores, [0.5, 2.0, 0.05], start, 1, 1e-3)
    with pytest.raises(ValueError, match="one score per noise level"):
        annealed_langevin(scores[:2], sigmas, start, 1, 1e-3)
