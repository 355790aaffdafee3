"""Projection onto the l1 ball (ILO's constraint) against scipy's SLSQP, in a batch, at ties and around a centre."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize
import torch

from deeprestore.generative.l1_ball import project_l1_ball, project_l1_ball_around


# --------------------------------------------------------------------------------------- l1 ball
def l1_projection_slsqp(v: np.ndarray, radius: float) -> np.ndarray:
    """The QP min ½‖w − v‖² s.t. ‖w‖₁ ≤ r, split as w = p − q with p, q ≥ 0, solved by SLSQP."""
    d = v.size

    def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
        residual = z[:d] - z[d:] - v
        return 0.5 * residual @ residual, np.concatenate([residual, -residual])

    start = np.concatenate([np.clip(v, 0, None), np.clip(-v, 0, None)]) * min(1.0, radius / max(np.abs(v).sum(), 1e-300))
    result = scipy.optimize.minimize(
        objective,
        start,
        jac=True,
        method="SLSQP",
        bounds=[(0, None)] * (2 * d),
        constraints=[{"type": "ineq", "fun": lambda z: radius - z.sum(), "jac": lambda z: -np.ones_like(z)}],
        options={"ftol": 1e-12, "maxiter": 1000},
    )
    assert result.success, result.message
    return result.x[:d] - result.x[d:]


def test_l1_projection_matches_scipy_qp() -> None:
    rng = np.random.default_rng(0)
    for trial in range(12):
        d = int(rng.integers(2, 16))
        v = rng.normal(size=d) * rng.uniform(0.1, 3)
        radius = float(rng.uniform(0.05, 1.2) * np.abs(v).sum())
        ours = project_l1_ball(torch.from_numpy(v)[None], radius)[0].numpy()
        np.testing.assert_allclose(ours, l1_projection_slsqp(v, radius), atol=1e-5, err_msg=f"trial {trial}")


def test_l1_projection_matches_scipy_in_a_batch() -> None:
    """The same QP rows projected at once, with per-row radii and a 3-D batch shape."""
    rng = np.random.default_rng(1)
    v = rng.normal(size=(6, 2, 4))
    radii = rng.uniform(0.1, 4, size=6)
    ours = project_l1_ball(torch.from_numpy(v), torch.from_numpy(radii)).numpy()
    assert ours.shape == v.shape
    for row in range(6):
        np.testing.assert_allclose(ours[row].ravel(), l1_projection_slsqp(v[row].ravel(), float(radii[row])), atol=1e-5)


def test_l1_projection_properties() -> None:
    g = torch.Generator().manual_seed(0)
    v = torch.randn(64, 3, 50, generator=g, dtype=torch.float64) * 2
    radius = torch.rand(64, generator=g, dtype=torch.float64) * 40
    w = project_l1_ball(v, radius)
    norms = w.flatten(1).abs().sum(1)
    assert (norms <= radius + 1e-6).all()
    outside = v.flatten(1).abs().sum(1) > radius
    torch.testing.assert_close(norms[outside], radius[outside], rtol=1e-10, atol=1e-10)  # on the boundary
    torch.testing.assert_close(project_l1_ball(w, radius), w, rtol=1e-12, atol=1e-12)  # idempotent
    assert (torch.sign(w) * torch.sign(v) >= 0).all()  # no sign flips
    inside = v / (v.flatten(1).abs().sum(1).view(-1, 1, 1)) * 0.5  # ‖·‖₁ = 0.5
    assert torch.equal(project_l1_ball(inside, 1.0), inside)
    assert torch.equal(project_l1_ball(v, 0.0), torch.zeros_like(v))
    mixed = project_l1_ball(v[:3], torch.tensor([0.0, 1e6, 1.0], dtype=torch.float64))
    assert torch.equal(mixed[0], torch.zeros_like(v[0])) and torch.equal(mixed[1], v[1])
    assert abs(float(mixed[2].abs().sum()) - 1.0) < 1e-12
    # a float32 batch stays float32; a scalar tensor radius works
    assert project_l1_ball(v.float(), torch.tensor(1.0)).dtype == torch.float32


def test_l1_projection_ties_and_zero_rows() -> None:
    v = torch.tensor([[1.0, -1.0, 1.0, -1.0], [0.0, 0.0, 0.0, 0.0], [3.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    w = project_l1_ball(v, 2.0)
    torch.testing.assert_close(w, torch.tensor([[0.5, -0.5, 0.5, -0.5], [0.0, 0, 0, 0], [2.0, 0, 0, 0]], dtype=torch.float64))


def test_l1_projection_around_center() -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(5, 20, generator=g, dtype=torch.float64)
    center = torch.randn(1, 20, generator=g, dtype=torch.float64)
    w = project_l1_ball_around(x, center, 1.5)
    assert w.shape == x.shape
    assert ((w - center).abs().sum(1) <= 1.5 + 1e-9).all()
    torch.testing.assert_close(w - center, project_l1_ball(x - center, 1.5))


def test_l1_projection_bad_arguments() -> None:
    with pytest.raises(ValueError, match="radius"):
        project_l1_ball(torch.randn(2, 3), -1.0)
    with pytest.raises(ValueError, match="radius"):
        project_l1_ball(torch.randn(2, 3), torch.tensor([1.0, -0.5]))
    with pytest.raises(ValueError, match="shape"):
        project_l1_ball(torch.randn(2, 3), torch.ones(3))
    with pytest.raises(ValueError, match="2-D"):
        project_l1_ball(torch.randn(3), 1.0)
