"""Train a small generator as the decoder of a variational autoencoder (Kingma & Welling 2014).

The decoder is a :class:`~deeprestore.generative.StagedGenerator` (``conv``: the DCGAN-style
:func:`conv_generator`; ``fc``: the fully connected :func:`fc_image_generator`), so the trained
model can be inverted layer by layer (Lei et al. 2019) or by ILO (Daras et al. 2021). The encoder
is a plain strided CNN that outputs the mean and log-variance of q(z | x).

Loss per image (the negative ELBO, Kingma & Welling 2014, eq. 10, with a Gaussian likelihood of
fixed standard deviation ``likelihood_std`` and a weight ``beta`` on the KL term)::

    ‖x − G(z)‖² / (2 s²)  +  β · KL(N(μ, diag σ²) ‖ N(0, I)),     z = μ + σ ε

Logged: ``train/loss``, ``train/recon``, ``train/kl``, ``val/loss``, ``val/mse`` and ``val/psnr``
of the reconstructions G(μ(x)), and a grid of samples G(z), z ~ N(0, I), every validation.

Example::

    python train.py --config configs/generators/vae_conv_photos.yaml
"""

from __future__ import annotations

import math
from typing import Literal

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deeprestore.checkpoint_files import TRUST_CHECKPOINTS, load_module_checkpoint
from deeprestore.generative.conv_generator import conv_generator, fc_image_generator
from deeprestore.generative.elbo import gaussian_kl, negative_elbo
from deeprestore.generative.staged_generator import StagedGenerator

__all__ = ["VAEGeneratorModule", "load_generator"]


def _encoder(channels: int, image_size: int, latent_dim: int, width: int) -> nn.Sequential:
    """Strided 4×4 convolutions down to a 4×4 map, then a linear layer to ``2 × latent_dim``."""
    layers: list[nn.Module] = []
    c, size, out = channels, image_size, max(width // 4, 8)
    while size > 4:
        layers += [nn.Conv2d(c, out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        c, size, out = out, size // 2, min(out * 2, width)
    layers += [nn.Flatten(), nn.Linear(c * 16, 2 * latent_dim)]
    return nn.Sequential(*layers)


class VAEGeneratorModule(L.LightningModule):
    """A VAE whose decoder is the generator to be inverted.

    Args:
        architecture: ``conv`` (DCGAN-style) or ``fc`` (fully connected).
        latent_dim: size of z.
        width: ``conv``: channels of the decoder's 4×4 map (and the encoder's widest layer);
            ``fc``: ignored by the decoder, the encoder's widest layer.
        hidden: ``fc`` only: hidden widths of the decoder.
        image_size, channels: the images (crops) it is trained on.
        likelihood_std: s, the Gaussian likelihood's standard deviation ([0, 1] units).
        beta: weight of the KL term.
        lr: Adam's learning rate.
        seed: seed of the reparameterisation noise and the sample grid.
    """

    def __init__(
        self,
        architecture: Literal["conv", "fc"] = "conv",
        latent_dim: int = 64,
        width: int = 128,
        hidden: tuple[int, ...] = (256, 1024),
        image_size: int = 32,
        channels: int = 3,
        likelihood_std: float = 0.1,
        beta: float = 1.0,
        lr: float = 1e-3,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if likelihood_std <= 0 or beta < 0:
            raise ValueError(f"likelihood_std must be positive and beta non-negative, got {likelihood_std}, {beta}")
        self.save_hyperparameters()
        if architecture == "conv":
            self.generator = conv_generator(latent_dim, width, image_size, channels)
        elif architecture == "fc":
            self.generator = fc_image_generator(latent_dim, tuple(hidden), image_size, channels)
        else:
            raise ValueError(f"architecture must be conv or fc, got {architecture!r}")
        self.encoder = _encoder(channels, image_size, latent_dim, width)
        self._generator = torch.Generator().manual_seed(seed)
        self.register_buffer("grid_latents", torch.randn(16, latent_dim, generator=torch.Generator().manual_seed(seed + 1)))

    def encode(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """``(μ, log σ²)``, each ``N×latent_dim``, of q(z | x) for ``N×C×H×W`` images."""
        mu, logvar = self.encoder(images).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 6.0)

    def losses(self, images: Tensor, sample: bool = True) -> dict[str, Tensor]:
        mu, logvar = self.encode(images)
        z = mu
        if sample:
            eps = torch.randn(mu.shape, generator=self._generator).to(mu)
            z = mu + (0.5 * logvar).exp() * eps
        recon = self.generator(z)
        sq = (recon - images).pow(2).flatten(1).sum(1)
        kl = gaussian_kl(mu, logvar)
        loss = negative_elbo(sq, kl, self.hparams.likelihood_std, self.hparams.beta)
        return {"loss": loss, "recon": sq.mean(), "kl": kl.mean(), "reconstruction": recon}

    def training_step(self, images: Tensor, batch_idx: int) -> Tensor:
        out = self.losses(images)
        n = len(images)
        self.log("train/loss", out["loss"], prog_bar=True, batch_size=n)
        self.log("train/recon", out["recon"], batch_size=n)
        self.log("train/kl", out["kl"], batch_size=n)
        return out["loss"]

    def _evaluate(self, images: Tensor, stage: str) -> None:
        out = self.losses(images, sample=False)
        mse = F.mse_loss(out["reconstruction"], images, reduction="none").flatten(1).mean(1)
        n = len(images)
        self.log(f"{stage}/loss", out["loss"], prog_bar=stage == "val", batch_size=n, sync_dist=True)
        self.log(f"{stage}/mse", mse.mean(), batch_size=n, sync_dist=True)
        self.log(f"{stage}/psnr", (-10 * torch.log10(mse.clamp_min(1e-12))).mean(), batch_size=n, sync_dist=True)

    def validation_step(self, images: Tensor, batch_idx: int) -> None:
        self._evaluate(images, "val")

    def test_step(self, images: Tensor, batch_idx: int) -> None:
        self._evaluate(images, "test")

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking or not self.trainer.is_global_zero:
            return
        from torchvision.utils import make_grid

        with torch.no_grad():
            samples = self.generator(self.grid_latents)
        grid = make_grid(samples.float().clamp(0, 1), nrow=int(math.sqrt(len(samples))), padding=1, pad_value=1.0)
        for logger in self.loggers:
            if hasattr(logger, "log_image"):
                logger.log_image("val/samples", [grid], step=self.global_step)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def load_generator(path: str, option: str = "--generator", trusted: bool = False) -> StagedGenerator:
    """The trained generator (decoder) of a :class:`VAEGeneratorModule` checkpoint: CPU, eval
    mode, parameters frozen; ``option`` names the file in errors; read as data unless ``trusted``
    (:func:`~deeprestore.checkpoint_files.read_checkpoint`)."""
    module = load_module_checkpoint(VAEGeneratorModule, path, option, trusted=trusted, trust_option=TRUST_CHECKPOINTS)
    generator = module.generator.eval()
    for p in generator.parameters():
        p.requires_grad_(False)
    return generator
