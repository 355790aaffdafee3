"""The feature-map VAE: its standardisation and KL are the closed forms, it trains through the real
Trainer (its negative ELBO falls), and its samples are maps of the layer's shape."""

from __future__ import annotations

import csv

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from deeprestore.generative import FeatureMapVAEModule, load_feature_map_vae
from tests.tiny_checkpoints import save_module


def test_the_standardisation_and_the_kl_are_the_closed_forms(photo_crops):
    torch.manual_seed(0)
    vae = FeatureMapVAEModule(layer="block2", width=8, latent_channels=2, stages=1)
    images = photo_crops[:4, :, :32, :32]
    out = vae.losses(images, sample=False)  # the first batch measures the standardisation
    maps = vae.maps(images)
    torch.testing.assert_close(vae.map_mean, maps.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(vae.map_std, maps.std(dim=(0, 2, 3)), rtol=1e-4, atol=1e-6)
    mu, logvar = vae.encode(maps)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).flatten(1).sum(1).mean()
    torch.testing.assert_close(out["kl"], expected, rtol=1e-5, atol=1e-5)
    assert mu.shape == (4, 2, 4, 4)  # block2 of 32² is 24×8×8; one stride-2 stage


def test_a_feature_map_vae_trains_and_samples_the_layers_maps(tmp_path):
    from deeprestore.training import main

    args = ["--config", "configs/generators/vae_block3.yaml", "--checkpoint_root", str(tmp_path), "--experiment", "vae"]
    args += ["--wandb", "disabled", "--trainer.max_epochs", "4", "--trainer.log_every_n_steps", "1"]
    args += ["--trainer.check_val_every_n_epoch", "2", "--trainer.enable_progress_bar", "false", "--model.init_args.width", "16"]
    args += ["--data.init_args.crop_size", "32", "--data.init_args.resize", "64", "--data.init_args.train_samples_per_epoch", "64"]
    metrics = main(args)
    rows = csv.DictReader((tmp_path / "vae" / "csv" / "version_0" / "metrics.csv").open())
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    assert len(losses) >= 12 and sum(losses[-3:]) / 3 < 0.9 * sum(losses[:3]) / 3  # the negative ELBO falls
    assert 0 < metrics["test/feature_error"] < 1.5
    vae = load_feature_map_vae(str(tmp_path / "vae" / "last.ckpt"))
    assert not any(p.requires_grad for p in vae.parameters())
    samples = vae.sample(3, (8, 8), torch.Generator().manual_seed(0))
    assert samples.shape == (3, 24, 8, 8) and torch.isfinite(samples).all()
    with pytest.raises(ValueError, match="sides divisible by 4"):
        vae.sample(1, (6, 8))


def test_an_untrained_vae_is_refused_in_one_line(tmp_path):
    path = save_module(FeatureMapVAEModule(layer="block2", width=8, latent_channels=2, stages=1), tmp_path / "vae.ckpt")
    with pytest.raises(ValueError, match="the VAE was never trained"):
        load_feature_map_vae(path)
