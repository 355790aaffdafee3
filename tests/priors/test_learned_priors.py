"""Score matching, experts, whitening, patches and Roth's FoE — against closed forms and references."""

from __future__ import annotations

import pytest
import torch

from deeprestore.priors.amari_index import amari_index
from deeprestore.priors.experts import EXPERTS
from deeprestore.priors.patch_energy import PatchEnergy
from deeprestore.priors.patches import all_patches, random_patches, to_grey
from deeprestore.priors.roth_foe import ROTH_FOE_FILES, load_foe_file, roth_foe
from deeprestore.priors.score_matching import naive_score_matching_objective, score_matching_objective
from deeprestore.priors.whitening import Whitening


@pytest.mark.parametrize("name", list(EXPERTS))
def test_expert_derivatives_match_finite_differences(name):
    expert = EXPERTS[name]
    s = torch.linspace(-6, 6, 101, dtype=torch.float64)
    h = 1e-5
    assert torch.allclose(expert.g(s), (expert.G(s + h) - expert.G(s - h)) / (2 * h), atol=1e-7)
    assert torch.allclose(expert.g_prime(s), (expert.g(s + h) - expert.g(s - h)) / (2 * h), atol=1e-7)
    assert torch.allclose(
        EXPERTS["ica"].G(torch.tensor([0.3], dtype=torch.float64)), -torch.log(torch.cosh(torch.tensor([0.3], dtype=torch.float64)))
    )


@pytest.mark.parametrize("name", ["ica", "foe", "gauss"])
def test_closed_form_objective_equals_the_autograd_one(name):
    g = torch.Generator().manual_seed(0)
    x, w, a = (
        torch.randn(40, 6, generator=g, dtype=torch.float64),
        torch.randn(9, 6, generator=g, dtype=torch.float64),
        torch.rand(9, generator=g, dtype=torch.float64) + 0.5,
    )
    w.requires_grad_(True)
    fast, slow = score_matching_objective(x, w, a, name), naive_score_matching_objective(x, w, a, name)
    assert torch.allclose(fast, slow, rtol=1e-10)
    (g_fast,) = torch.autograd.grad(fast, w)
    (g_slow,) = torch.autograd.grad(slow, w)
    assert torch.allclose(g_fast, g_slow, rtol=1e-8, atol=1e-10)


def test_score_matching_recovers_a_gaussian_precision_matrix():
    """For log p = −½ xᵀMx, J̃ = ½ mean ‖Mx‖² − tr M is minimised by M = (mean x xᵀ)⁻¹ (Hyvärinen 2005, §3)."""
    g = torch.Generator().manual_seed(1)
    mix = torch.randn(4, 4, generator=g, dtype=torch.float64)
    x = torch.randn(20000, 4, generator=g, dtype=torch.float64) @ mix.T
    expected = torch.linalg.inv(x.T @ x / len(x))
    w = torch.eye(4, dtype=torch.float64).requires_grad_(True)  # M = Wᵀ W (α = 1)
    opt = torch.optim.LBFGS([w], max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-15, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = score_matching_objective(x, w, torch.ones(4, dtype=torch.float64), "gauss")
        loss.backward()
        return loss

    opt.step(closure)
    found = (w.T @ w).detach()
    assert torch.allclose(found, expected, rtol=1e-4, atol=1e-6 * expected.abs().max())


def test_ica_by_score_matching_recovers_the_mixing_matrix_of_laplace_sources():
    g = torch.Generator().manual_seed(2)
    n = 4
    sources = torch.distributions.Laplace(0.0, 1.0).sample((20000, n))
    mixing = torch.randn(n, n, generator=g)
    white = Whitening.fit(sources @ mixing.T, "pca")
    model = PatchEnergy("ica", channels=1, size=2, n_filters=n, whitening=white, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    data = sources @ mixing.T
    for _ in range(600):
        opt.zero_grad()
        model.score_matching_loss(data).backward()
        opt.step()
    unmixing = model.whitening.compose(model.filters.detach())[0]  # n×n on raw data
    random_index = amari_index(torch.randn(n, n, generator=g), mixing)
    assert amari_index(unmixing, mixing) < 0.05 < random_index


def test_amari_index_is_zero_for_a_scaled_permutation():
    a = torch.randn(3, 3)
    perm = torch.tensor([[0.0, 2.0, 0.0], [0.0, 0.0, -1.0], [3.0, 0.0, 0.0]])
    assert amari_index(perm @ torch.linalg.inv(a), a) < 1e-6


@pytest.mark.parametrize("method", ["pca", "zca"])
def test_whitening_whitens_and_inverts(method):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(5000, 12, generator=g, dtype=torch.float64) @ torch.randn(12, 12, generator=g, dtype=torch.float64) + 3.0
    white = Whitening.fit(x, method, eps=0.0).double()
    z = white(x)
    cov = z.T @ z / (len(z) - 1)
    assert torch.allclose(cov, torch.eye(z.shape[1], dtype=torch.float64), atol=1e-3)
    assert torch.allclose(white.invert(z), x, atol=1e-3)
    if method == "zca":  # ZCA is symmetric
        assert torch.allclose(white.matrix, white.matrix.T, atol=1e-4)


def test_whitening_can_remove_each_channels_dc_component():
    x = torch.randn(3000, 2 * 9, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    white = Whitening.fit(x, "pca", channels=2, remove_dc=True).double()  # buffers are float32
    assert white.out_dim == 16
    ones = torch.zeros(1, 18, dtype=torch.float64)
    ones[0, :9] = 1.0  # a constant shift of channel 0 is invisible
    assert torch.allclose(white(x[:5] + 7 * ones), white(x[:5]), atol=1e-5)


def test_patches_are_in_conv_weight_order():
    maps = torch.arange(2 * 3 * 5 * 6, dtype=torch.float32).view(2, 3, 5, 6)
    patches = all_patches(maps, 3)
    assert patches.shape == (2 * 3 * 4, 27)
    assert torch.equal(patches[0], maps[0, :, :3, :3].reshape(-1))
    samples = random_patches(maps, 3, 50, torch.Generator().manual_seed(0))
    assert samples.shape == (100, 27)
    every = {tuple(p.tolist()) for p in patches}
    assert all(tuple(p.tolist()) in every for p in samples)
    assert torch.allclose(to_grey(torch.ones(1, 3, 2, 2)), torch.ones(1, 1, 2, 2))


def test_field_energy_is_the_sum_over_all_patches():
    model = PatchEnergy("foe", channels=2, size=3, n_filters=5, whitening=Whitening.fit(torch.randn(500, 18), "zca", channels=2))
    maps = torch.randn(2, 2, 7, 8, dtype=torch.float64)
    model = model.double()
    per_patch = -model.patch_log_density(all_patches(maps, 3)).view(2, -1).sum(1)
    assert torch.allclose(model.field_energy(maps), per_patch, rtol=1e-10)


def test_field_energy_gradient_matches_finite_differences():
    model = roth_foe(3).double()
    x = (torch.rand(1, 1, 6, 6, dtype=torch.float64) * 255).requires_grad_(True)
    assert torch.autograd.gradcheck(model.field_energy, (x,), eps=1e-4, atol=1e-5)


def test_roths_5x5_file_parses_to_24_experts_of_5x5(tmp_path):
    model = roth_foe(5)
    weight, bias = model.conv_filters()
    assert weight.shape == (24, 1, 5, 5) and model.alphas.shape == (24,) and bias.abs().max() == 0
    tokens = ROTH_FOE_FILES[5].read_text().split()  # s K, 2×25 offsets, 24 α, then filter 1
    first = torch.tensor([float(t) for t in tokens[2 + 50 + 24 : 2 + 50 + 24 + 25]])
    assert torch.allclose(weight[0].flatten(), first)  # taps are row-major, x fastest
    assert [roth_foe(s).n_filters for s in (2, 3)] == [3, 8]
    bad = tmp_path / "bad.foe"
    bad.write_text("5 24\n1 2 3\n")
    with pytest.raises(ValueError, match="bad.foe"):
        load_foe_file(bad)


def _train_losses(run) -> list[float]:
    import csv

    rows = csv.DictReader((run / "csv" / "version_0" / "metrics.csv").open())
    return [float(r["train/score_matching"]) for r in rows if r.get("train/score_matching")]


def test_an_image_prior_trains_through_the_trainer_and_its_loss_falls(tmp_path, capsys):
    from deeprestore.priors import load_patch_prior
    from deeprestore.training import main

    args = [
        "--config",
        "configs/priors/ica_image.yaml",
        "--checkpoint_root",
        str(tmp_path),
        "--experiment",
        "ica",
        "--wandb",
        "disabled",
        "--trainer.max_epochs",
        "6",
        "--trainer.log_every_n_steps",
        "1",
        "--trainer.enable_progress_bar",
        "false",
        "--model.init_args.n_filters",
        "64",
        "--model.init_args.whitening_patches",
        "5000",
        "--data.init_args.train_samples_per_epoch",
        "32",
    ]
    metrics = main(args)
    run = tmp_path / "ica"
    losses = _train_losses(run)
    assert len(losses) >= 20 and sum(losses[-5:]) / 5 < sum(losses[:5]) / 5  # the score-matching loss falls
    assert "test/score_matching" in metrics and (run / "filters.png").stat().st_size > 1000
    prior = load_patch_prior(str(run / "last.ckpt"))
    white = prior.energy.whitening
    assert white.out_dim == 3 * 64 - 3 and white.mean.abs().sum() > 0  # fitted and saved, DC removed
    weight, bias = prior.energy.conv_filters()
    assert weight.shape == (64, 3, 8, 8) and torch.isfinite(weight).all()
    assert torch.allclose(weight.sum((2, 3)), torch.zeros(64, 3), atol=1e-4)  # DC-free filters


def test_a_feature_map_prior_models_the_networks_features(tmp_path):
    from deeprestore.priors import PatchPriorModule

    with pytest.raises(ValueError, match="both net and layer"):
        PatchPriorModule(net="efficientnet_lite0")
    with pytest.raises(ValueError, match="use whitening: pca"):
        PatchPriorModule(whitening="zca", remove_dc=True)
    module = PatchPriorModule(net="efficientnet_lite0", layer="block1", patch_size=3, n_filters=20)
    images = torch.rand(2, 3, 64, 64)
    assert module.maps(images).shape == (2, 16, 32, 32)
    assert module.patches(images).shape == (2 * 256, 16 * 9)
    assert module.energy.field_energy(module.maps(images)).shape == (2,)


def test_dae_prior_gradient_is_the_denoisers_residual():
    from deeprestore.priors import DAEPrior, DenoisingAutoencoder

    torch.manual_seed(0)
    dae = DenoisingAutoencoder(3, width=8, depth=2)
    torch.nn.init.normal_(dae.residual[-1].weight, std=0.1)
    x = torch.rand(2, 3, 12, 10, requires_grad=True)
    DAEPrior(dae, sigma=0.1)(x).sum().backward()
    expected = -(dae(x.detach()) - x.detach()) / 0.1**2 / (12 * 10)
    assert torch.allclose(x.grad, expected, atol=1e-5)


def test_a_trained_dae_estimates_the_score_of_gaussian_data():
    """Alain & Bengio (2014): for pixels x ~ N(0, s²) the optimal denoiser is r(y) = s²/(s²+σ²) y,
    so (r(y) − y)/σ² = −y/(s² + σ²), which tends to the score −y/s² as σ → 0."""
    from deeprestore.priors import DenoisingAutoencoder
    from deeprestore.priors.dae import dae_score

    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    s, sigma = 1.0, 0.5
    dae = DenoisingAutoencoder(1, width=16, depth=2)
    opt = torch.optim.Adam(dae.parameters(), lr=3e-3)
    for step in range(1000):
        if step == 700:
            opt.param_groups[0]["lr"] = 3e-4
        clean = s * torch.randn(32, 1, 16, 16, generator=g)
        noisy = clean + sigma * torch.randn(clean.shape, generator=g)
        opt.zero_grad()
        torch.nn.functional.mse_loss(dae(noisy), clean).backward()
        opt.step()
    y = s * torch.randn(4, 1, 16, 16, generator=g) + sigma * torch.randn(4, 1, 16, 16, generator=g)
    with torch.no_grad():
        found = dae_score(dae, y, sigma)
    expected = -y / (s**2 + sigma**2)
    assert (found - expected).norm() / expected.norm() < 0.1


def test_a_dae_prior_trains_through_the_trainer(tmp_path):
    from deeprestore.priors import load_dae_prior
    from deeprestore.training import main

    metrics = main(
        [
            "--config",
            "configs/priors/dae_image.yaml",
            "--checkpoint_root",
            str(tmp_path),
            "--experiment",
            "dae",
            "--wandb",
            "disabled",
            "--trainer.max_epochs",
            "2",
            "--trainer.enable_progress_bar",
            "false",
            "--data.init_args.train_samples_per_epoch",
            "64",
            "--model.init_args.width",
            "8",
        ]
    )
    assert metrics["test/psnr_gain"] > 0  # the denoiser removes some noise from held-out photos
    module = load_dae_prior(str(tmp_path / "dae" / "last.ckpt"))
    assert module.dae.channels == 3 and abs(float(module.noise_scale) - 0.1) < 1e-6


def test_learned_priors_compute_in_float32_from_bf16_and_under_autocast():
    """The learned priors' energies are sums over every patch position: float32 whatever the
    input's dtype, and an autocast region around them (Lightning's bf16-mixed) does not reach in."""
    from deeprestore.priors import DAEPrior, DenoisingAutoencoder
    from deeprestore.priors.learned_prior import PatchImagePrior

    torch.manual_seed(0)
    dae = DenoisingAutoencoder(3, 8, 2)
    torch.nn.init.normal_(dae.residual[-1].weight, std=0.1)  # not the identity it starts as
    images = torch.rand(2, 3, 24, 24).bfloat16().float()
    for prior in (PatchImagePrior(PatchEnergy("ica", 3, 5, 12)), DAEPrior(dae, 0.1)):
        want = prior(images)
        got = prior(images.bfloat16())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            inside = prior(images)
        assert want.dtype == got.dtype == inside.dtype == torch.float32
        torch.testing.assert_close(got, want, rtol=0, atol=0)
        torch.testing.assert_close(inside, want, rtol=0, atol=0)
