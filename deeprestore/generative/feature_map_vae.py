"""A variational autoencoder on one layer's feature maps (Kingma & Welling 2014; the MSc thesis §5.2:
"generative models, for instance VAEs, can be trained on individual feature maps").

The maps ``m = Φ_layer(x)`` (``N×C×h×w``) of a frozen zoo network are standardised per channel
(``s = (m − μ_c)/σ_c``, μ and σ measured on the first training batch, averaged over the DDP ranks,
and saved), encoded to a spatial latent ``z`` (``N×k×h/2ᵈ×w/2ᵈ``, ``d`` stride-2 stages) and
decoded back. The model is fully convolutional: it samples maps of any size whose sides ``2ᵈ``
divides, with a latent prior ``N(0, I)`` at every position.

Loss per map (the negative ELBO, Kingma & Welling 2014, eq. 10, Gaussian likelihood of fixed
standard deviation ``likelihood_std`` in standardised units, weight ``beta`` on the KL term)::

    ‖s − D(z)‖² / (2 t²)  +  β · KL(N(μ, diag σ²) ‖ N(0, I)),     z = μ + σ ε

Logged: ``train/loss``, ``train/recon``, ``train/kl``, ``val/loss``, ``val/kl`` and
``val/feature_error`` (``‖D(μ(m)) − m‖ / ‖m‖`` in the layer's units, the inversion study's measure).

Example::

    python train.py --config configs/generators/vae_block3.yaml
"""

from __future__ import annotations

import lightning as L
import torch
from torch import Tensor, nn

from deeprestore.checkpoint_files import TRUST_CHECKPOINTS, load_module_checkpoint
from deeprestore.generative.elbo import gaussian_kl, negative_elbo
from deeprestore.nets import load_network
from deeprestore.nets.frozen_checkpoints import FrozenNetCheckpoints

__all__ = ["FeatureMapVAEModule", "load_feature_map_vae"]


def _encoder(channels: int, width: int, latent_channels: int, stages: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1), nn.LeakyReLU(0.2)]
    for _ in range(stages):
        layers += [nn.Conv2d(width, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
    layers.append(nn.Conv2d(width, 2 * latent_channels, 1))
    return nn.Sequential(*layers)


def _decoder(channels: int, width: int, latent_channels: int, stages: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(latent_channels, width, 1), nn.LeakyReLU(0.2)]
    for _ in range(stages):
        layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(width, width, 3, padding=1), nn.LeakyReLU(0.2)]
    layers.append(nn.Conv2d(width, channels, 3, padding=1))
    return nn.Sequential(*layers)


class FeatureMapVAEModule(FrozenNetCheckpoints, L.LightningModule):
    """A convolutional VAE on ``net``'s maps at ``layer``.

    Args:
        net, layer, weights: the zoo network (:func:`~deeprestore.nets.load_network`) and the layer
            whose maps are modelled.
        latent_channels: ``k``, the latent's channels per position.
        width: the hidden convolutions' channels.
        stages: ``d``, stride-2 stages between the maps and the latent.
        likelihood_std: ``t``, the likelihood's standard deviation in standardised units.
        beta: weight of the KL term.
        lr: Adam's learning rate.
        seed: seed of the reparameterisation noise (rank ``r`` draws from ``seed + 1_000_003 · r``).
        probe_size: image size used to find the layer's channel count.
    """

    def __init__(
        self,
        net: str = "efficientnet_lite0",
        layer: str = "block3",
        weights: str = "pretrained",
        latent_channels: int = 8,
        width: int = 64,
        stages: int = 2,
        likelihood_std: float = 0.5,
        beta: float = 1.0,
        lr: float = 1e-3,
        seed: int = 0,
        probe_size: int = 128,
    ) -> None:
        super().__init__()
        if likelihood_std <= 0 or beta < 0 or latent_channels < 1 or stages < 0:
            raise ValueError(
                f"likelihood_std must be positive, beta non-negative, latent_channels ≥ 1 and stages ≥ 0; "
                f"got {likelihood_std}, {beta}, {latent_channels}, {stages}"
            )
        self.save_hyperparameters()
        self.net = load_network(net, weights=weights)
        shape = self.net.output_shape(self.net.check_layer(layer), probe_size)
        if len(shape) != 3:
            raise ValueError(f"{layer} of {net} gives vectors {tuple(shape)}; a feature-map VAE needs C×h×w maps")
        channels = int(shape[0])
        self.encoder = _encoder(channels, width, latent_channels, stages)
        self.decoder = _decoder(channels, width, latent_channels, stages)
        self.register_buffer("map_mean", torch.zeros(channels))
        self.register_buffer("map_std", torch.zeros(channels))
        self._generator: torch.Generator | None = None

    @property
    def fitted(self) -> bool:
        """Whether the standardisation has been measured (on the first training batch, or as loaded)."""
        return bool((self.map_std > 0).all())

    def maps(self, images: Tensor) -> Tensor:
        """``Φ_layer(images)``, ``N×C×h×w`` float32, for images ``N×3×H×W`` in [0, 1]."""
        layer = self.hparams.layer
        with torch.no_grad():
            return self.net.features(images, layer)[layer].float()

    def _fit_standardisation(self, maps: Tensor) -> None:
        var, mean = torch.var_mean(maps, dim=(0, 2, 3))
        if self._trainer is not None:
            mean = self.trainer.strategy.reduce(mean, reduce_op="mean")
            var = self.trainer.strategy.reduce(var, reduce_op="mean")
        self.map_mean.copy_(mean)
        self.map_std.copy_(var.sqrt().clamp_min(1e-6))

    def standardise(self, maps: Tensor) -> Tensor:
        return (maps - self.map_mean.view(1, -1, 1, 1)) / self.map_std.view(1, -1, 1, 1)

    def unstandardise(self, standardised: Tensor) -> Tensor:
        return self.map_mean.view(1, -1, 1, 1) + self.map_std.view(1, -1, 1, 1) * standardised

    def check_size(self, maps: Tensor) -> None:
        """One line for maps whose sides ``2^stages`` does not divide."""
        factor = 2**self.hparams.stages
        if maps.shape[-1] % factor or maps.shape[-2] % factor:
            raise ValueError(
                f"maps of {maps.shape[-2]}×{maps.shape[-1]}: the VAE's {self.hparams.stages} stride-2 stages need sides divisible by {factor}"
            )

    def encode(self, maps: Tensor) -> tuple[Tensor, Tensor]:
        """``(μ, log σ²)`` of ``q(z | m)``, each ``N×k×h/2ᵈ×w/2ᵈ``, for maps ``N×C×h×w`` in the layer's units."""
        self.check_size(maps)
        mu, logvar = self.encoder(self.standardise(maps)).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 6.0)

    def decode(self, z: Tensor) -> Tensor:
        """Maps ``N×C×h×w`` in the layer's units from latents ``N×k×h/2ᵈ×w/2ᵈ``."""
        return self.unstandardise(self.decoder(z))

    def reconstruct(self, maps: Tensor) -> Tensor:
        """``D(μ(m))``: the maps' reconstruction through the latent's mean."""
        return self.decode(self.encode(maps)[0])

    def sample(self, count: int, size: tuple[int, int], generator: torch.Generator | None = None) -> Tensor:
        """``count`` maps ``count×C×h×w`` of spatial ``size = (h, w)`` decoded from ``z ~ N(0, I)``."""
        factor = 2**self.hparams.stages
        if size[0] % factor or size[1] % factor:
            raise ValueError(
                f"maps of {size[0]}×{size[1]}: the VAE's {self.hparams.stages} stride-2 stages need sides divisible by {factor}"
            )
        shape = (count, self.hparams.latent_channels, size[0] // factor, size[1] // factor)
        z = torch.randn(shape, generator=generator).to(self.map_mean)
        return self.decode(z)

    def losses(self, images: Tensor, sample: bool = True) -> dict[str, Tensor]:
        maps = self.maps(images)
        if not self.fitted:
            self._fit_standardisation(maps)
        mu, logvar = self.encode(maps)
        z = mu
        if sample:
            if self._generator is None or self._generator.device != mu.device:
                self._generator = torch.Generator(device=mu.device).manual_seed(self.hparams.seed + 1_000_003 * self.global_rank)
            z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=self._generator, device=mu.device)
        decoded = self.decoder(z)
        sq = (decoded - self.standardise(maps)).pow(2).flatten(1).sum(1)
        kl = gaussian_kl(mu, logvar)
        loss = negative_elbo(sq, kl, self.hparams.likelihood_std, self.hparams.beta)
        error = (self.unstandardise(decoded) - maps).flatten(1).norm(dim=1) / maps.flatten(1).norm(dim=1).clamp_min(1e-12)
        return {"loss": loss, "recon": sq.mean(), "kl": kl.mean(), "feature_error": error.mean()}

    def training_step(self, images: Tensor, batch_idx: int) -> Tensor:
        out = self.losses(images)
        n = len(images)
        self.log("train/loss", out["loss"], prog_bar=True, batch_size=n)
        self.log("train/recon", out["recon"], batch_size=n)
        self.log("train/kl", out["kl"], batch_size=n)
        return out["loss"]

    def _evaluate(self, images: Tensor, stage: str) -> None:
        out = self.losses(images, sample=False)
        n = len(images)
        self.log(f"{stage}/loss", out["loss"], prog_bar=stage == "val", batch_size=n, sync_dist=True)
        self.log(f"{stage}/kl", out["kl"], batch_size=n, sync_dist=True)
        self.log(f"{stage}/feature_error", out["feature_error"], batch_size=n, sync_dist=True)

    def validation_step(self, images: Tensor, batch_idx: int) -> None:
        self._evaluate(images, "val")

    def test_step(self, images: Tensor, batch_idx: int) -> None:
        self._evaluate(images, "test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam([*self.encoder.parameters(), *self.decoder.parameters()], lr=self.hparams.lr)


def load_feature_map_vae(path: str, option: str = "--vae", trusted: bool = False) -> FeatureMapVAEModule:
    """A trained :class:`FeatureMapVAEModule` (CPU, eval mode, frozen); ``option`` names the file in
    errors; read as data unless ``trusted``.

    Raises:
        ValueError: a checkpoint whose standardisation was never measured (not trained).
    """
    module = load_module_checkpoint(FeatureMapVAEModule, path, option, trusted=trusted, trust_option=TRUST_CHECKPOINTS).eval()
    if not module.fitted:
        raise ValueError(f"{option} {path}: the VAE was never trained (its maps' standardisation is unset)")
    for p in module.parameters():
        p.requires_grad_(False)
    return module
