"""Train a denoising autoencoder prior with Lightning (MSc thesis §5.1; Nguyen et al. 2016).

On ``N×3×H×W`` images in [0, 1] (``net: null``) or on a zoo network's feature maps at ``layer``:
add Gaussian noise of standard deviation ``sigma`` (for feature maps: ``sigma`` times the maps'
RMS, fixed on the first batch — averaged over the DDP ranks — and saved), train ``r`` to remove it
by mean squared error. The noise is drawn on the maps' device from a stream of its own per rank
(seeded by ``seed`` and the global rank), so DDP ranks do not add the same noise.
Logged: ``train/loss``, ``val/loss`` and ``val/psnr_gain`` (dB of PSNR the denoiser adds to the
noisy input, images only).

Example::

    python train.py --config configs/priors/dae_image.yaml
"""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor

from deeprestore.checkpoint_files import TRUST_CHECKPOINTS, load_module_checkpoint
from deeprestore.nets import load_network
from deeprestore.nets.frozen_checkpoints import FrozenNetCheckpoints
from deeprestore.priors.dae import DenoisingAutoencoder

__all__ = ["DAEPriorModule", "load_dae_prior"]


class DAEPriorModule(FrozenNetCheckpoints, L.LightningModule):
    """A denoising autoencoder on images or feature maps.

    Args:
        sigma: noise standard deviation ([0, 1] units for images; relative to the maps' RMS for
            feature maps).
        width, depth: the denoiser's size (:class:`DenoisingAutoencoder`).
        net, layer, weights: a zoo network and layer for a feature-map DAE (``None``: images).
        lr: Adam's learning rate.
        seed: seed of the noise (rank ``r`` draws from ``seed + 1_000_003 · r``).
        probe_size: image size used to find the layer's channel count.
    """

    def __init__(
        self,
        sigma: float = 0.1,
        width: int = 64,
        depth: int = 4,
        net: str | None = None,
        layer: str | None = None,
        weights: str = "pretrained",
        lr: float = 1e-3,
        seed: int = 0,
        probe_size: int = 128,
    ) -> None:
        super().__init__()
        if (net is None) != (layer is None):
            raise ValueError("a feature-map DAE needs both net and layer; an image DAE neither")
        if sigma <= 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        self.save_hyperparameters()
        self.net = None
        channels = 3
        if net is not None:
            self.net = load_network(net, weights=weights)
            channels = self.net.output_shape(self.net.check_layer(layer), probe_size)[0]
        self.dae = DenoisingAutoencoder(channels, width, depth)
        self.register_buffer("noise_scale", torch.tensor(sigma if net is None else 0.0))
        self._generator: torch.Generator | None = None
        self._noise_scale_set = net is None

    def maps(self, images: Tensor) -> Tensor:
        if self.net is None:
            return images.float()
        with torch.no_grad():
            return self.net.features(images, self.hparams.layer)[self.hparams.layer].float()

    def step(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(clean maps, noisy maps, denoised)``."""
        clean = self.maps(images)
        if not self._noise_scale_set:  # feature maps: σ relative to their RMS on the first batch (or as resumed)
            if float(self.noise_scale) == 0.0:
                rms = clean.pow(2).mean().sqrt()
                if self._trainer is not None:
                    rms = self.trainer.strategy.reduce(rms, reduce_op="mean")
                self.noise_scale.copy_(self.hparams.sigma * rms)
            self._noise_scale_set = True
        if self._generator is None or self._generator.device != clean.device:
            self._generator = torch.Generator(device=clean.device).manual_seed(self.hparams.seed + 1_000_003 * self.global_rank)
        noise = torch.randn(clean.shape, generator=self._generator, device=clean.device) * self.noise_scale
        noisy = clean + noise
        return clean, noisy, self.dae(noisy)

    def training_step(self, images: Tensor, batch_idx: int) -> Tensor:
        clean, _, denoised = self.step(images)
        loss = F.mse_loss(denoised, clean)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(images))
        return loss

    def _evaluate(self, images: Tensor, stage: str) -> None:
        clean, noisy, denoised = self.step(images)
        loss = F.mse_loss(denoised, clean)
        self.log(f"{stage}/loss", loss, prog_bar=stage == "val", batch_size=len(images), sync_dist=True)
        if self.net is None:
            gain = 10 * torch.log10(F.mse_loss(noisy, clean) / loss.clamp_min(1e-12))
            self.log(f"{stage}/psnr_gain", gain, batch_size=len(images), sync_dist=True)

    def validation_step(self, images: Tensor, batch_idx: int) -> None:
        self._evaluate(images, "val")

    def test_step(self, images: Tensor, batch_idx: int) -> None:
        self._evaluate(images, "test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.dae.parameters(), lr=self.hparams.lr)


def load_dae_prior(path: str, option: str = "checkpoint", trusted: bool = False) -> DAEPriorModule:
    """A trained :class:`DAEPriorModule` (CPU, eval mode); ``option`` names the file in errors;
    read as data unless ``trusted`` (:func:`~deeprestore.checkpoint_files.read_checkpoint`)."""
    return load_module_checkpoint(DAEPriorModule, path, option, trusted=trusted, trust_option=TRUST_CHECKPOINTS).eval()
