"""One LightningModule for every inverting-network experiment.

Dosovitskiy & Brox (2016), "Inverting visual representations with convolutional networks", in
the modular form of Harder (2017, §3.2 and §4.2): one small inverse module per network operation
(see :mod:`deeprestore.inverters.operations`), trained in one of four modes:

``parallel``
    each module maps the *true* features of its operation's output to the true features of its
    input; modules are independent (separate losses, no gradient between them).
``stacked``
    the parallel modules chained at test time, assembled from one or more parallel checkpoints
    (``parallel_checkpoints``); nothing is trained.
``joint``
    the modules chained (each fed the previous reconstruction) and trained together with a loss at
    every intermediate layer and at the image.
``end_to_end``
    the modules chained and trained with the image loss only.
``generic``
    one :class:`~deeprestore.inverters.generic_decoder.GenericDecoder` built from the layer's
    feature shape alone, trained with the image loss: any layer of any network, including those
    that do not decompose into operations (``torchvision/…``, ``timm/…``, your own module).

A sixth, ``deepsim``, is its own class, :class:`~deeprestore.inverters.deepsim.DeepSimInverter`: the
chain trained end to end against a comparator's features and a discriminator.

Every level's loss is :func:`~deeprestore.inverters.losses.relative_mse`. Validation and test
reconstruct the image from the true target features through the whole chain and log image MSE,
PSNR, SSIM, the normalised feature error and the sharpness (the high-frequency energy ratio), plus a 4-panel grid per image (original |
reconstruction | colour difference | absolute difference; the thesis's figures 6 and 7).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch import Tensor

from deeprestore.checkpoint_files import read_checkpoint
from deeprestore.inverters.chain import InverterChain
from deeprestore.inverters.generic_decoder import GenericDecoder
from deeprestore.inverters.losses import relative_mse
from deeprestore.inverters.operations import IMAGE, network_operations
from deeprestore.metrics import comparison_grid, feature_error, high_frequency_ratio, image_metrics, save_png
from deeprestore.nets import LayeredNetwork, load_network
from deeprestore.nets.frozen_checkpoints import FrozenNetCheckpoints

MODES = ("parallel", "stacked", "joint", "end_to_end", "generic")
#: The mode of :class:`~deeprestore.inverters.deepsim.DeepSimInverter` (its own class: two networks, two optimisers).
DEEPSIM = "deepsim"


class InvertingNetwork(FrozenNetCheckpoints, L.LightningModule):
    """Train or evaluate an inverting network for one layer of a network.

    Args:
        net: a network name of :func:`~deeprestore.nets.load_network` (``efficientnet_lite0``,
            ``torchvision/resnet50`` …); the modular modes need a zoo network that decomposes
            into operations (AlexNet, VGG16, EfficientNet-Lite).
        layer: the layer whose features are inverted.
        mode: ``parallel``, ``stacked``, ``joint``, ``end_to_end`` or ``generic`` (see the module
            docstring).
        module_type: ``upsample`` (resize + conv + ReLU + conv; Odena et al. 2016) or
            ``transposed`` (transposed conv + ReLU + conv).
        upsample_mode: ``nearest`` or ``bilinear``.
        weights: the network's weights: ``pretrained``, a path, or ``random`` (plumbing only).
        kernel_size: kernel size of the inverse convolutions.
        width: multiplier of the inverse modules' hidden width (``generic``: of the channels at
            the features' resolution).
        lr: Adam learning rate (3e-4, as in the thesis).
        image_loss_weight: weight of the image-level loss relative to each feature level.
        probe_size: input size used to record layer shapes when building the modules.
        parallel_checkpoints: for ``stacked``: checkpoints of ``parallel`` runs providing the modules.
        grid_images: how many validation images get a comparison grid each epoch.
    """

    modes: tuple[str, ...] = MODES

    def __init__(
        self,
        net: str = "efficientnet_lite0",
        layer: str = "block3",
        mode: str = "joint",
        module_type: str = "upsample",
        upsample_mode: str = "nearest",
        weights: str = "pretrained",
        kernel_size: int = 3,
        width: float = 2.0,
        lr: float = 3e-4,
        image_loss_weight: float = 1.0,
        probe_size: int = 224,
        parallel_checkpoints: list[str] | None = None,
        grid_images: int = 4,
    ) -> None:
        super().__init__()
        if mode not in self.modes:
            hint = f"; mode {DEEPSIM!r} is class_path deeprestore.inverters.DeepSimInverter" if mode == DEEPSIM else ""
            raise ValueError(f"mode must be one of {self.modes}, got {mode!r}{hint}")
        if mode == "stacked" and not parallel_checkpoints:
            raise ValueError("mode 'stacked' assembles modules from parallel runs: give parallel_checkpoints=[...]")
        self.save_hyperparameters()
        self.net = load_network(net, weights=weights)
        self.net.check_layer(layer)
        if mode == "generic":
            self.ops = []
            self.levels = [layer]
            size = self.net.probe_size(probe_size)
            shape = self.net.output_shape(layer, size)
            stride = size[0] / shape[1] if len(shape) == 3 else None
            self.chain: InverterChain | GenericDecoder = GenericDecoder(
                layer, shape, stride, size[0], module_type, upsample_mode, kernel_size, width
            )
        else:
            if not isinstance(self.net, LayeredNetwork):
                raise ValueError(f"mode {mode!r} cuts the network into operations, which {net} does not decompose into; use mode: generic")
            self.ops = network_operations(self.net, layer, probe_size)
            self.levels = [op.name for op in self.ops]
            self.chain = InverterChain(self.ops, module_type, upsample_mode, kernel_size, width)
        if mode == "stacked":
            self.assemble_from(parallel_checkpoints)

    # -- checkpoints ------------------------------------------------------------------------
    def assemble_from(self, paths: list[str]) -> None:
        """Load every inverse module from parallel-mode checkpoints (later files win)."""
        found: dict[str, Tensor] = {}
        keep = ("net", "module_type", "upsample_mode", "kernel_size", "width")
        for path in paths:
            ckpt = read_checkpoint(path, "--model.init_args.parallel_checkpoints")  # as data: tensors and plain values only
            hp = ckpt.get("hyper_parameters", {})
            if hp.get("mode") != "parallel":
                raise ValueError(f"{path} is a {hp.get('mode')!r} checkpoint; stacked models are assembled from 'parallel' ones")
            clash = {k: (hp.get(k), self.hparams[k]) for k in keep if hp.get(k) != self.hparams[k]}
            if clash:
                raise ValueError(f"{path} does not match this model: {clash}")
            found.update({k: v for k, v in ckpt["state_dict"].items() if k.startswith("chain.")})
        own = self.chain.state_dict()
        missing = sorted({k.split(".")[1] for k in own if f"chain.{k}" not in found})
        if missing:
            raise ValueError(f"no parallel checkpoint among {paths} has the modules for {missing}")
        self.chain.load_state_dict({k: found[f"chain.{k}"] for k in own})

    # -- forward ----------------------------------------------------------------------------
    def true_levels(self, images: Tensor) -> tuple[dict[str, Tensor], dict[str, tuple[int, int]]]:
        """The network's features at every level (and the normalised image), and their sizes."""
        with torch.no_grad():
            levels = self.net.features(images, self.levels)
            levels[IMAGE] = self.net.normalize(images)
        sizes = {k: tuple(v.shape[-2:]) for k, v in levels.items() if v.ndim == 4}
        return levels, sizes

    def to_image(self, normalized: Tensor) -> Tensor:
        """Network units → ``[0, 1]`` RGB (not clamped)."""
        return normalized.float() * self.net.std + self.net.mean

    def forward(self, features: Tensor, image_size: tuple[int, int]) -> Tensor:
        """Reconstruct ``[0, 1]`` images ``N×3×H×W`` from features at the target layer.

        ``image_size`` fixes the sizes of all intermediate maps (found by probing the network).
        """
        probe = torch.zeros(1, 3, *image_size, device=features.device)
        _, sizes = self.true_levels(probe)
        return self.to_image(self.chain(features, sizes)[IMAGE]).clamp(0, 1)

    # -- training ---------------------------------------------------------------------------
    def level_losses(self, levels: dict[str, Tensor], sizes: dict[str, tuple[int, int]]) -> dict[str, Tensor]:
        """The training losses of this mode, by level name."""
        mode = self.hparams.mode
        if mode == "parallel":
            preds = {op.input_layer: self.chain.invert_one(op, levels[op.name], sizes) for op in self.ops}
        elif mode in ("joint", "end_to_end", "generic"):
            preds = self.chain(levels[self.chain.target], sizes)
            if mode == "end_to_end":
                preds = {IMAGE: preds[IMAGE]}
        else:
            raise RuntimeError("a stacked model is assembled from parallel checkpoints and is not trained; run test or validate")
        return {name: relative_mse(pred, levels[name]) for name, pred in preds.items()}

    def training_step(self, images: Tensor, batch_idx: int) -> Tensor:
        levels, sizes = self.true_levels(images)
        losses = self.level_losses(levels, sizes)
        loss = sum(value * (self.hparams.image_loss_weight if k == IMAGE else 1.0) for k, value in losses.items())
        self.log("train/loss", loss, prog_bar=True, batch_size=len(images), sync_dist=False)
        self.log_dict({f"train/loss_{k}": v for k, v in losses.items()}, batch_size=len(images))
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.chain.parameters(), lr=self.hparams.lr)

    # -- evaluation -------------------------------------------------------------------------
    def evaluate(self, images: Tensor, stage: str, batch_idx: int) -> dict[str, Tensor]:
        levels, sizes = self.true_levels(images)
        recon = self.to_image(self.chain(levels[self.chain.target], sizes)[IMAGE]).clamp(0, 1)
        metrics = image_metrics(recon, images)
        metrics["high_frequency_ratio"] = high_frequency_ratio(recon, images)
        with torch.no_grad():
            metrics["feature_error"] = feature_error(
                self.net.features(recon, self.chain.target)[self.chain.target], levels[self.chain.target]
            )
        means = {f"{stage}/{k}": v.mean() for k, v in metrics.items()}
        self.log_dict(means, batch_size=len(images), sync_dist=True, prog_bar=stage == "val")
        if batch_idx == 0 and self.hparams.grid_images > 0 and self.trainer.is_global_zero:
            self.log_grids(images[: self.hparams.grid_images], recon[: self.hparams.grid_images], stage)
        return metrics

    def validation_step(self, images: Tensor, batch_idx: int) -> None:
        self.evaluate(images, "val", batch_idx)

    def test_step(self, images: Tensor, batch_idx: int) -> None:
        self.evaluate(images, "test", batch_idx)

    def log_grids(self, originals: Tensor, recon: Tensor, stage: str) -> None:
        """Save the 4-panel grid of every image to disk and to any logger that takes images."""
        rows = [comparison_grid(o[None], r[None]) for o, r in zip(originals.float().cpu(), recon.float().cpu())]
        grid = comparison_grid(originals.float().cpu(), recon.float().cpu())
        out_dir = Path(self.trainer.default_root_dir) / "grids"
        save_png(grid, out_dir / f"{stage}_epoch{self.current_epoch:03d}.png")
        for logger in self.loggers:
            if hasattr(logger, "log_image"):
                logger.log_image(
                    key=f"{stage}/reconstructions",
                    images=list(rows),
                    step=self.global_step,
                    caption=["original | reconstruction | difference | |difference|"] * len(rows),
                )
