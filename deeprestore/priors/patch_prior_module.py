"""Train a patch prior (over-complete ICA or Fields of Experts) by score matching, with Lightning.

MSc thesis "Deep Restoration" §3.4.2–3.4.3 and §5.1: the model of
:class:`~deeprestore.priors.patch_energy.PatchEnergy`, trained on random ``k×k`` patches of

* images (``net: null``): colour (``grey: false``, ``3×k×k``) or grey (``1×k×k``), in the
  library's [0, 1] units; or
* feature maps of a zoo network at ``layer`` (``C×k×k``, ``k`` about the receptive field of the
  next layer: 3 for a 3×3 convolution).

Before the first step the whitening (PCA/ZCA, each channel's DC component removed by default) is
fitted on ``whitening_patches`` patches of the training set — on rank 0, broadcast to the other
ranks under DDP — and saved in the checkpoint with the filters. The loss is Hyvärinen's sampled
score-matching objective J̃ (thesis eq. 8), logged as ``train/score_matching`` and
``val/score_matching`` (lower is better; it can be negative). At the end of training a figure of
the learned filters is written to ``<run>/filters.png`` (and to W&B).

Example::

    python train.py --config configs/priors/ica_image.yaml
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch import Tensor

from deeprestore.checkpoint_files import TRUST_CHECKPOINTS, load_module_checkpoint
from deeprestore.metrics import save_figure
from deeprestore.nets import load_network
from deeprestore.nets.frozen_checkpoints import FrozenNetCheckpoints
from deeprestore.precision import full_precision
from deeprestore.priors.filter_figure import filter_figure
from deeprestore.priors.patch_energy import PatchEnergy
from deeprestore.priors.patches import random_patches, to_grey
from deeprestore.priors.whitening import Whitening

__all__ = ["PatchPriorModule", "load_patch_prior"]


class PatchPriorModule(FrozenNetCheckpoints, L.LightningModule):
    """A patch energy model on image or feature-map patches, trained by score matching.

    Args:
        expert: ``"ica"`` (−log cosh experts) or ``"foe"`` (Student t).
        n_filters: number of experts (512 on 8×8 colour patches is the thesis's figure 8).
        patch_size: ``k``.
        grey: image priors only: grey patches (BT.709 luma) instead of colour.
        net: zoo network for a feature-map prior (``None``: an image prior).
        layer: the network layer whose feature maps are modelled.
        weights: the network's weights (``pretrained``, a path, ``random`` for plumbing).
        whitening: ``"pca"`` or ``"zca"`` (ZCA only without ``remove_dc``: it would keep the
            removed directions, along which J̃ is unbounded below).
        remove_dc: remove each patch's mean per channel before whitening.
        whitening_eps: regulariser of the whitening, relative to the mean variance: directions
            with less variance are not blown up (a whitened direction of variance v lets J̃ reach
            about −1/(2v), so near-empty directions would dominate the fit).
        whitening_patches: patches used to fit the whitening.
        patches_per_image: random patches drawn from each image (or feature map) per step.
        lr: Adam's learning rate.
        seed: seed of the initial filters and of the patch positions.
        probe_size: image size used to find the layer's channel count.
    """

    def __init__(
        self,
        expert: str = "ica",
        n_filters: int = 512,
        patch_size: int = 8,
        grey: bool = False,
        net: str | None = None,
        layer: str | None = None,
        weights: str = "pretrained",
        whitening: str = "pca",
        remove_dc: bool = True,
        whitening_eps: float = 0.01,
        whitening_patches: int = 50_000,
        patches_per_image: int = 256,
        lr: float = 1e-3,
        seed: int = 0,
        probe_size: int = 128,
    ) -> None:
        super().__init__()
        if (net is None) != (layer is None):
            raise ValueError("a feature-map prior needs both net and layer; an image prior neither")
        if whitening not in ("zca", "pca"):
            raise ValueError(f"whitening must be 'zca' or 'pca', got {whitening!r}")
        if whitening == "zca" and remove_dc:
            # ZCA rotates back to d dimensions, of which C carry no data after the DC removal: a
            # filter there sees s ≡ 0, and score matching rewards growing it without bound
            raise ValueError("ZCA whitening keeps the removed DC directions (rank d − C); use whitening: pca with remove_dc")
        self.save_hyperparameters()
        self.net = None
        if net is not None:
            self.net = load_network(net, weights=weights)
            channels = self.net.output_shape(self.net.check_layer(layer), probe_size)[0]
        else:
            channels = 1 if grey else 3
        dim = channels * patch_size * patch_size
        out_dim = dim if whitening == "zca" else Whitening.default_components(dim, channels, remove_dc)  # ZCA rotates back
        self.energy = PatchEnergy(expert, channels, patch_size, n_filters, Whitening(dim, out_dim), seed=seed)
        self.register_buffer("whitening_fitted", torch.tensor(False))
        self._generator = torch.Generator().manual_seed(seed)

    # -- data --------------------------------------------------------------------------------
    def maps(self, images: Tensor) -> Tensor:
        """The modelled maps of ``N×3×H×W`` images: the images (grey or colour) or their features."""
        if self.net is None:
            return to_grey(images) if self.hparams.grey else images
        with torch.no_grad():
            return self.net.features(images, self.hparams.layer)[self.hparams.layer].float()

    def patches(self, images: Tensor) -> Tensor:
        """Random patches of the maps: ``(N · patches_per_image)×(C·k·k)`` in float32."""
        return random_patches(self.maps(images).float(), self.hparams.patch_size, self.hparams.patches_per_image, self._generator)

    def loss(self, images: Tensor) -> Tensor:
        """J̃ on random patches of ``N×3×H×W`` images, in float32 even under bf16/fp16 autocast."""
        patches = self.patches(images)
        with full_precision(patches.device):
            return self.energy.score_matching_loss(patches)

    def fit_whitening(self) -> None:
        """Fit the whitening on patches of the training set (rank 0), broadcast it to all ranks."""
        whitening = None
        if self.trainer.is_global_zero:
            wanted, found = self.hparams.whitening_patches, []
            loader = self.trainer.datamodule.train_dataloader() if self.trainer.datamodule else self.trainer.train_dataloader
            while sum(len(p) for p in found) < wanted:
                before = len(found)
                for images in loader:
                    found.append(self.patches(images.to(self.device)).cpu())
                    if sum(len(p) for p in found) >= wanted:
                        break
                if len(found) == before:
                    raise ValueError("the training set yielded no images to fit the whitening on")
            patches = torch.cat(found)[:wanted]
            whitening = Whitening.fit(
                patches,
                self.hparams.whitening,
                channels=self.energy.channels,
                remove_dc=self.hparams.remove_dc,
                eps=self.hparams.whitening_eps,
            ).state_dict()
        whitening = self.trainer.strategy.broadcast(whitening, src=0)
        self.energy.whitening.load_state_dict({k: v.to(self.device) for k, v in whitening.items()})
        self.whitening_fitted.fill_(True)

    def on_fit_start(self) -> None:
        if not bool(self.whitening_fitted):
            self.fit_whitening()

    # -- steps -------------------------------------------------------------------------------
    def training_step(self, images: Tensor, batch_idx: int) -> Tensor:
        loss = self.loss(images)
        self.log("train/score_matching", loss, prog_bar=True, batch_size=len(images))
        return loss

    def _evaluate(self, images: Tensor, stage: str) -> None:
        loss = self.loss(images)
        self.log(f"{stage}/score_matching", loss, prog_bar=stage == "val", batch_size=len(images), sync_dist=True)

    def validation_step(self, images: Tensor, batch_idx: int) -> None:
        self._evaluate(images, "val")

    def test_step(self, images: Tensor, batch_idx: int) -> None:
        self._evaluate(images, "test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.energy.parameters(), lr=self.hparams.lr)

    def on_fit_end(self) -> None:
        if not self.trainer.is_global_zero:
            return
        path = save_figure(filter_figure(self.energy), Path(self.trainer.default_root_dir) / "filters.png", dpi=100)
        for logger in self.loggers:
            experiment = getattr(logger, "experiment", None)
            if hasattr(experiment, "log") and type(logger).__name__ == "WandbLogger":
                import wandb

                experiment.log({"filters": wandb.Image(str(path))})


def load_patch_prior(path: str, option: str = "checkpoint", trusted: bool = False) -> PatchPriorModule:
    """A trained :class:`PatchPriorModule` from its checkpoint (on the CPU, in eval mode);
    ``option`` names the file in errors; read as data unless ``trusted``
    (:func:`~deeprestore.checkpoint_files.read_checkpoint`)."""
    module = load_module_checkpoint(PatchPriorModule, path, option, trusted=trusted, trust_option=TRUST_CHECKPOINTS)
    if not bool(module.whitening_fitted):
        raise ValueError(f"{path} holds a prior whose whitening was never fitted (saved before training started)")
    return module.eval()
