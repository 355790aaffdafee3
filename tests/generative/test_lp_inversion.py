"""Layer-wise LP inversion of generators (Lei, Jalal, Dhillon & Dimakis 2019) and its baseline."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from deeprestore.generative.fc_generator import fully_connected_generator
from deeprestore.generative.gradient_inversion import invert_by_gradient_descent
from deeprestore.generative.lp_inversion import invert_layer, invert_layerwise, invert_relu_layer
from deeprestore.generative.stage_matrix import stage_affine
from deeprestore.generative.staged_generator import GeneratorStage


def _rel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.double() - b.double()).flatten(1).norm(dim=1) / b.double().flatten(1).norm(dim=1)


def _net_and_data(widths, seed, n, activation="relu"):
    G = fully_connected_generator(widths, activation=activation, seed=seed, dtype=torch.float64)
    z = G.sample_latent(n, torch.Generator().manual_seed(100 + seed)).double()
    return G, z, G(z)


def test_single_layer_lp_recovers_expanding_layer_exactly():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((120, 30))
    b = 0.1 * rng.standard_normal(120)
    x = rng.standard_normal(30)
    y = np.maximum(A @ x + b, 0)
    x_hat, info = invert_relu_layer(A, b, y, return_info=True)
    assert np.linalg.norm(x_hat - x) / np.linalg.norm(x) < 1e-8
    assert info.status == "exact" and info.method == "lp" and info.rank == 30
    # torch in, same answer
    assert np.allclose(invert_relu_layer(torch.from_numpy(A), torch.from_numpy(b), torch.from_numpy(y)), x, atol=1e-8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_layerwise_lp_recovers_random_20_100_500_net(seed):
    G, z, x = _net_and_data((20, 100, 500), seed, 2)
    z_hat, diag = invert_layerwise(G, x)
    assert _rel(z_hat, z).max() < 1e-6
    assert diag.ok.all() and diag.layers == (1, 0) and diag.status_counts() == {"exact": 4}


def test_stage_affine_matches_linear_and_upsample_conv_stages():
    torch.manual_seed(0)
    lin = GeneratorStage(nn.Linear(7, 5))
    A, b = stage_affine(lin, (7,))
    h = torch.randn(4, 7, dtype=torch.float64)
    assert A.shape == (5, 7) and A.dtype == torch.float64
    assert torch.allclose(h @ A.T + b, lin.linear.double()(h), atol=1e-12)
    conv = GeneratorStage(nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear"), nn.Conv2d(3, 4, 3, padding=1)))
    A, b = stage_affine(conv, (3, 4, 4), chunk=10)  # several chunks
    assert A.shape == (4 * 8 * 8, 3 * 4 * 4)
    h = torch.randn(5, 3, 4, 4)
    with torch.no_grad():
        expected = conv.linear(h).double().flatten(1)
    assert torch.allclose(h.double().flatten(1) @ A.T + b, expected, atol=1e-5)
    assert conv.linear[1].weight.dtype == torch.float32  # the module itself is untouched


def test_noisy_variants_error_of_order_noise_and_exact_without_noise():
    G, z, x = _net_and_data((10, 40, 160), 3, 2)
    noise = 1e-2
    e = torch.randn(x.shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    x_noisy = x + noise * x.norm(dim=1, keepdim=True) / x.shape[1] ** 0.5 * e
    exact, _ = invert_layerwise(G, x)
    for mode in ("linf", "l1"):
        z_clean, diag = invert_layerwise(G, x, noise=mode)
        assert diag.ok.all() and torch.allclose(z_clean, exact, atol=1e-8)
        z_noisy, diag = invert_layerwise(G, x_noisy, noise=mode)
        # Lei et al. §4: error O(‖e‖); relative noise 1e-2 must not give more than 10× that
        err = _rel(z_noisy, z)
        assert diag.ok.all() and err.max() < 10 * noise and err.min() > 0, (mode, err)
        assert all(s.epsilon > 0 for s in diag.solves[0])  # the threshold was raised


def test_leaky_relu_and_sigmoid_layers_invert():
    G, z, x = _net_and_data((10, 30, 90), 4, 2, activation="leaky_relu")
    z_hat, diag = invert_layerwise(G, x)
    assert _rel(z_hat, z).max() < 1e-8 and {s.method for s in diag.solves[0]} == {"lstsq"}
    rng = np.random.default_rng(1)
    A, x1 = rng.standard_normal((20, 8)), rng.standard_normal(8)
    y = 1 / (1 + np.exp(-(A @ x1)))
    assert np.allclose(invert_layer(A, None, y, activation="sigmoid").x, x1, atol=1e-8)
    assert np.allclose(invert_layer(A, None, y, activation="sigmoid", noise="linf").x, x1, atol=1e-6)


def test_failures_are_explicit():
    rng = np.random.default_rng(2)
    A, x = rng.standard_normal((60, 10)), rng.standard_normal(10)
    y = np.maximum(A @ x, 0)
    y_bad = y + 1e-3 * np.abs(rng.standard_normal(60)) * (y > 0)  # not realizable: eq. 3 infeasible
    sol = invert_layer(A, None, y_bad)
    assert sol.info.status == "fallback" and sol.info.method == "lp-linf" and "eq. 3" in sol.info.message
    assert np.linalg.norm(sol.x - x) / np.linalg.norm(x) < 1e-2
    under = invert_layer(A[:8], None, np.maximum(A[:8] @ x, 0))  # 8 outputs, 10 unknowns
    assert under.info.status == "underdetermined" and not under.info.ok
    failed = invert_layer(A, None, np.full(60, np.nan))
    assert failed.info.status == "failed" and np.isnan(failed.x).all()


def test_gradient_descent_baseline_reduces_error_and_recovers_small_net():
    G, z, x = _net_and_data((20, 100, 500), 0, 2)
    start = invert_by_gradient_descent(G, x, steps=0, restarts=1)
    z_hat, loss = invert_by_gradient_descent(G, x, return_loss=True)
    assert (_rel(z_hat, z) < _rel(start, z)).all()
    assert _rel(z_hat, z).max() < 1e-6 and loss.max() < 1e-20


def test_float32_data_falls_back_and_says_so():
    G = fully_connected_generator((20, 100, 500), seed=0)  # float32: eq. 3 is infeasible at round-off level
    z = torch.randn(1, 20, generator=torch.Generator().manual_seed(0))
    z_hat, diag = invert_layerwise(G, G(z), time_limit=0.5)
    assert diag.ok.all() and "fallback" in diag.status_counts() and _rel(z_hat, z).max() < 1e-5
    assert all("eq. 3" in s.message for s in diag.solves[0] if s.status == "fallback")


def test_the_threshold_search_finds_the_smallest_accepted_index_from_any_guess():
    from deeprestore.generative.lp_threshold_search import smallest_accepted

    for first in range(1, 22):  # the predicate turns true at `first` (21: never within 1 … 20)
        for guess in range(1, 21):
            asked: list[int] = []

            def accepted(j: int, asked: list[int] = asked, first: int = first) -> bool:
                asked.append(j)
                return j >= first

            _, found = smallest_accepted(accepted, guess, 0, 20)
            assert found == (first if first <= 20 else None) and len(asked) <= 2 * 5 + 1, (first, guess)


@pytest.mark.parametrize("bounds", [None, (0.0, None), (0.0, 1.0), (-1.0, 1.0)])
def test_l1_lp_through_its_dual_equals_the_primal_lp(bounds):
    """The ℓ1 LP is solved through its dual; the primal written out directly (x, slacks s,
    ``±(Ax − c) ≤ s`` on on-rows, ``Ax − c ≤ s`` elsewhere) must reach the same optimum, and the
    dual's ``x`` must attain it inside the bounds."""
    from scipy.optimize import linprog

    from deeprestore.generative.lp_programs import l1_dual_lp

    rng = np.random.default_rng(7)
    m, n = 120, 25
    A = rng.standard_normal((m, n))
    c = A @ rng.uniform(0.1, 0.9, n) + 0.05 * rng.standard_normal(m)
    on = rng.random(m) < 0.6
    eye = np.eye(m)
    primal = linprog(
        np.r_[np.zeros(n), np.ones(m)],
        method="highs",
        A_ub=np.vstack([np.hstack([A, -eye]), np.hstack([-A[on], -eye[on]])]),
        b_ub=np.r_[c, -c[on]],
        bounds=[bounds or (None, None)] * n + [(0.0, None)] * m,
    )
    assert primal.status == 0
    res, x, mean_slack = l1_dual_lp(A, c, on, bounds, 10.0, [])
    assert mean_slack * m == pytest.approx(primal.fun, rel=1e-9)
    r = A @ x - c
    assert np.abs(r[on]).sum() + np.maximum(r[~on], 0).sum() == pytest.approx(primal.fun, rel=1e-8)
    lo, hi = bounds or (None, None)
    assert lo is None or x.min() >= lo - 1e-9
    assert hi is None or x.max() <= hi + 1e-9


def test_the_noiseless_methods_fallback_reuses_the_linf_search_through_the_memo():
    """On noisy data eq. 3 is infeasible and "lp" falls back to exactly the ℓ∞ method's threshold
    search: with a shared memo it is solved once, and both answers equal those without it."""
    from deeprestore.generative.lp_inversion import ThresholdSearchMemo

    G, z, x = _net_and_data((10, 40, 160), 4, 2)
    e = torch.randn(x.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    x_noisy = x + 1e-2 * x.norm(dim=1, keepdim=True) / x.shape[1] ** 0.5 * e
    linf_alone, _ = invert_layerwise(G, x_noisy, noise="linf")
    lp_alone, diag_alone = invert_layerwise(G, x_noisy, noise="none")
    memo = ThresholdSearchMemo()
    linf_shared, diag_linf = invert_layerwise(G, x_noisy, noise="linf", memo=memo)
    assert memo.reused_seconds == 0
    lp_shared, diag_lp = invert_layerwise(G, x_noisy, noise="none", memo=memo)
    assert memo.reused_seconds > 0
    assert torch.equal(linf_shared, linf_alone) and torch.equal(lp_shared, lp_alone)
    assert torch.equal(lp_shared, linf_shared)  # the fallback is the ℓ∞ answer
    assert {s.status for solves in diag_lp.solves for s in solves} == {"fallback"}
    assert [[s.lps for s in solves] for solves in diag_lp.solves] == [[s.lps for s in solves] for solves in diag_alone.solves]
    # the reused searches are counted in the fallback's time (as if it had run alone)
    assert sum(diag_lp.seconds) >= memo.reused_seconds
