"""DeePSiM inverting networks: the D&B decoder trained with a comparator's features and a discriminator.

Dosovitskiy & Brox, NeurIPS 2016, "Generating images with perceptual similarity metrics based on
deep networks" (the MSc thesis's ref. 1), §3: the inverter ``G`` of their CVPR 2016 paper trained
with

    L_G = λ_feat ‖C(G(Φ(x))) − C(x)‖² + λ_adv (−log D(G(Φ(x)), Φ(x))) + λ_img ‖G(Φ(x)) − x‖²

(:mod:`~deeprestore.inverters.perceptual_losses`) against a discriminator ``D`` that sees the image
and the features being inverted (:class:`~deeprestore.inverters.discriminator.FeatureConditionedDiscriminator`)
and is trained with ``L_discr = −log D(x) − log(1 − D(G(Φ(x))))``. The pixel loss alone averages
what the features do not pin down and blurs; the comparator asks for the right features, the
discriminator for a natural image. ``G`` is the modular chain of the other modes, trained end to end.

Training (Lightning's manual optimisation, one batch):

1. ``x̂ = G(Φ(x))``; ``D`` scores ``x`` and ``x̂`` (detached). Its step is skipped while
   ``L_discr < discriminator_pause × L_adv`` (the paper's guard against a discriminator that wins
   too early), the two losses averaged over every DDP rank first so that all ranks decide alike;
   its gradients are computed either way, so every rank runs the same collectives.
2. ``G`` takes one step on ``L_G`` with ``D``'s parameters toggled off.

``trainer.global_step`` counts ``G``'s steps only (``D``'s optimiser is stepped directly). The
dropout masks of ``D`` are drawn from a generator seeded by ``(seed, rank, global_step)``, so a run
resumed from ``last.ckpt`` repeats the uninterrupted one bit for bit (tested). Under DDP use
``strategy: ddp_find_unused_parameters_true``: each backward pass reaches only one of the two
networks. ``16-mixed`` precision is refused (its loss scaler does not see ``D``'s direct step);
``bf16-mixed`` and ``32-true`` are the choices.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from deeprestore.inverters.discriminator import FeatureConditionedDiscriminator
from deeprestore.inverters.lightning_module import DEEPSIM, InvertingNetwork
from deeprestore.inverters.operations import IMAGE
from deeprestore.inverters.perceptual_losses import (
    PAPER_WEIGHTS,
    discriminator_loss,
    generator_adversarial_loss,
    pixel_loss,
    summed_squared_error,
)
from deeprestore.nets import FeatureNetwork, load_network

__all__ = ["DeepSimInverter"]


class DeepSimInverter(InvertingNetwork):
    """Train an inverting network for one layer with DeePSiM's losses (module docstring).

    Args:
        net, layer, module_type, upsample_mode, weights, kernel_size, width, probe_size, grid_images:
            as :class:`~deeprestore.inverters.InvertingNetwork`.
        mode: ``deepsim`` (the only value: it names the checkpoints' mode).
        lr: Adam learning rate of the inverter (the paper: 2e-4).
        comparator: network ``C`` of the feature loss; ``None`` = the inverted network.
        comparator_layer: the layer of ``C`` compared (the paper: AlexNet's conv5).
        comparator_weights: ``C``'s weights (``pretrained``, a path, ``random``); ``None`` = ``weights``.
        feature_weight: λ_feat (the paper: 0.01 for AlexNet's conv5 in Caffe's units; set it per comparator).
        adversarial_weight: λ_adv (the paper: 100).
        pixel_weight: λ_img, for pixels in 0–255 (the paper: 2e-6).
        discriminator_lr: Adam learning rate of the discriminator.
        discriminator_width: multiplier of the discriminator's widths (1 = the paper's).
        discriminator_pause: skip the discriminator's step while ``L_discr < this × L_adv`` (0 never skips).
        seed: seed of the discriminator's dropout masks.
    """

    modes = (DEEPSIM,)
    frozen_networks = ("net", "comparator")

    def __init__(
        self,
        net: str = "efficientnet_lite0",
        layer: str = "block3",
        mode: str = DEEPSIM,
        module_type: str = "upsample",
        upsample_mode: str = "nearest",
        weights: str = "pretrained",
        kernel_size: int = 3,
        width: float = 2.0,
        lr: float = 2e-4,
        probe_size: int = 224,
        grid_images: int = 4,
        comparator: str | None = None,
        comparator_layer: str = "block8",
        comparator_weights: str | None = None,
        feature_weight: float = PAPER_WEIGHTS["feature"],
        adversarial_weight: float = PAPER_WEIGHTS["adversarial"],
        pixel_weight: float = PAPER_WEIGHTS["pixel"],
        discriminator_lr: float = 2e-4,
        discriminator_width: float = 1.0,
        discriminator_pause: float = 0.1,
        seed: int = 0,
    ) -> None:
        super().__init__(
            net=net,
            layer=layer,
            mode=mode,
            module_type=module_type,
            upsample_mode=upsample_mode,
            weights=weights,
            kernel_size=kernel_size,
            width=width,
            lr=lr,
            probe_size=probe_size,
            grid_images=grid_images,
        )
        for name, value in (("feature_weight", feature_weight), ("adversarial_weight", adversarial_weight), ("pixel_weight", pixel_weight)):
            if not value >= 0:
                raise ValueError(f"{name} must be ≥ 0, got {value}")
        if not discriminator_pause >= 0:
            raise ValueError(f"discriminator_pause must be ≥ 0, got {discriminator_pause}")
        self.automatic_optimization = False
        comparator_weights = weights if comparator_weights is None else comparator_weights
        same = comparator in (None, net) and comparator_weights == weights
        self.comparator: FeatureNetwork | None = None if same else load_network(comparator or net, weights=comparator_weights)
        self.comparator_network.check_layer(comparator_layer)
        size = self.net.probe_size(probe_size)
        self.discriminator = FeatureConditionedDiscriminator(tuple(self.net.output_shape(layer, size)), width=discriminator_width)
        self._dropout_generator: torch.Generator | None = None

    @property
    def comparator_network(self) -> FeatureNetwork:
        """``C``: the comparator, or the inverted network itself."""
        return self.net if self.comparator is None else self.comparator

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        return [
            torch.optim.Adam(self.chain.parameters(), lr=self.hparams.lr),
            torch.optim.Adam(self.discriminator.parameters(), lr=self.hparams.discriminator_lr),
        ]

    def on_fit_start(self) -> None:
        if str(self.trainer.precision).startswith("16"):
            raise ValueError(
                f"precision {self.trainer.precision!r}: DeePSiM steps its discriminator directly, past fp16's loss scaler; use bf16-mixed or 32-true"
            )

    def step_generator(self, device: torch.device) -> torch.Generator:
        """The dropout generator of this step, seeded by ``(seed, rank, global_step)``."""
        if self._dropout_generator is None or self._dropout_generator.device != device:
            self._dropout_generator = torch.Generator(device=device)
        entropy = [self.hparams.seed, self.global_rank, self.global_step]
        return self._dropout_generator.manual_seed(int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0] >> 1))

    def generator_losses(self, reconstructions: Tensor, images: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        """``L_feat``, ``L_adv``, ``L_img`` per sample (``(N,)`` each), unweighted.

        Args:
            reconstructions: ``x̂``, ``N×3×H×W`` in ``[0, 1]`` (not clamped).
            images: ``x``, ``N×3×H×W`` in ``[0, 1]``.
            fake_logits: ``D``'s logits on ``x̂``, ``(N,)``.
        """
        comparator, layer = self.comparator_network, self.hparams.comparator_layer
        with torch.no_grad():
            target = comparator.features(images, layer)[layer]
        return {
            "feature": summed_squared_error(comparator.features(reconstructions, layer)[layer], target),
            "adversarial": generator_adversarial_loss(fake_logits),
            "pixel": pixel_loss(reconstructions, images),
        }

    def training_step(self, images: Tensor, batch_idx: int) -> Tensor:
        chain_optimizer = self.optimizers()[0]
        discriminator_optimizer = self.optimizers(use_pl_optimizer=False)[1]
        dropout = self.step_generator(images.device)
        levels, sizes = self.true_levels(images)
        features = levels[self.chain.target]
        fake = self.chain(features, sizes)[IMAGE]  # the network's input units

        # 1. the discriminator
        real_logits = self.discriminator(levels[IMAGE], features, dropout)
        fake_logits = self.discriminator(fake.detach(), features, dropout)
        d_loss = discriminator_loss(real_logits, fake_logits).mean()
        both = torch.stack([d_loss.detach(), generator_adversarial_loss(fake_logits.detach()).mean()])
        both = self.trainer.strategy.reduce(both, reduce_op="mean")
        train_discriminator = bool(both[0] >= self.hparams.discriminator_pause * both[1])  # one host sync per step
        discriminator_optimizer.zero_grad(set_to_none=True)
        self.manual_backward(d_loss)
        if train_discriminator:
            discriminator_optimizer.step()

        # 2. the inverter
        self.toggle_optimizer(chain_optimizer)
        losses = self.generator_losses(self.to_image(fake), images, self.discriminator(fake, features, dropout))
        weights = {k: self.hparams[f"{k}_weight"] for k in losses}
        loss = sum(weights[k] * v for k, v in losses.items()).mean()
        chain_optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        chain_optimizer.step()
        self.untoggle_optimizer(chain_optimizer)

        n = len(images)
        self.log("train/loss", loss, prog_bar=True, batch_size=n)
        self.log_dict({f"train/loss_{k}": v.mean() for k, v in losses.items()}, batch_size=n)
        self.log_dict(
            {
                "train/loss_discriminator": d_loss,
                "train/discriminator_trained": float(train_discriminator),
                "train/d_real": torch.sigmoid(real_logits.detach().float()).mean(),
                "train/d_fake": torch.sigmoid(fake_logits.detach().float()).mean(),
            },
            batch_size=n,
        )
        return loss
