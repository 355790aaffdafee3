"""Langevin chains on a Gaussian, whose law is known: ULA close to it, MALA exact within sampling error."""

from __future__ import annotations

import pytest
import torch

from deeprestore.sampling import energy_score, geometric_steps, langevin

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
