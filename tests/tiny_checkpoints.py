"""Small untrained checkpoints of the real modules, saved the way Lightning saves them, for the
plumbing of the studies (what they compute is tested elsewhere)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch

from deeprestore.generative.vae_module import VAEGeneratorModule
from deeprestore.priors import DAEPriorModule, PatchPriorModule
from deeprestore.priors.whitening import Whitening


def save_module(module: L.LightningModule, path: Path) -> str:
    """``module`` as a checkpoint file the way Lightning writes one (state dict and hyper-parameters)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams), "pytorch-lightning_version": L.__version__}
    module.on_save_checkpoint(ckpt)
    torch.save(ckpt, path)
    return str(path)


def patch_prior(path: Path, **kwargs) -> str:
    """A PatchPriorModule (8 FoE experts, 3×3) with a fitted whitening; ``kwargs`` as the module's
    (``grey=True``, ``net=…, layer=…``)."""
    module = PatchPriorModule(n_filters=8, patch_size=3, **kwargs)
    fitted = Whitening.fit(
        torch.randn(500, module.energy.whitening.in_dim, generator=torch.Generator().manual_seed(0)),
        "pca",
        channels=module.energy.channels,
        remove_dc=True,
    )
    module.energy.whitening.load_state_dict(fitted.state_dict())
    module.whitening_fitted.fill_(True)
    return save_module(module, path)


def dae_prior(path: Path, residual: bool = False, **kwargs) -> str:
    """A one-layer, width-4 DAEPriorModule; ``residual``: its last convolution random instead of
    zero, so that ``r(x) ≠ x``; ``kwargs`` as the module's (``net=…, layer=…``: a feature-map DAE,
    its noise scale set to 0.5)."""
    torch.manual_seed(0)
    module = DAEPriorModule(width=4, depth=1, **kwargs)
    if residual:
        torch.nn.init.normal_(module.dae.residual[-1].weight, std=0.1)
    if module.net is not None:
        module.noise_scale.fill_(0.5)
    return save_module(module, path)


def generator(path: Path, image_size: int = 32) -> str:
    """A small convolutional VAEGeneratorModule making ``3×image_size×image_size`` images."""
    torch.manual_seed(0)
    return save_module(VAEGeneratorModule(latent_dim=8, width=16, image_size=image_size), path)


def inverter(path: Path, layer: str = "block2", mode: str = "joint") -> str:
    """An untrained EfficientNet-Lite0 inverting network (width 0.25) at ``layer``."""
    from deeprestore.inverters import InvertingNetwork

    torch.manual_seed(0)
    return save_module(InvertingNetwork(net="efficientnet_lite0", layer=layer, mode=mode, width=0.25, grid_images=0), path)


def feature_map_vae(path: Path, layer: str = "block2") -> str:
    """An untrained FeatureMapVAEModule (width 8, 2 latent channels, one stride-2 stage) on
    EfficientNet-Lite0's ``layer``, its standardisation measured on random 32² images."""
    from deeprestore.generative import FeatureMapVAEModule

    torch.manual_seed(0)
    module = FeatureMapVAEModule(layer=layer, width=8, latent_channels=2, stages=1)
    module.losses(torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0)), sample=False)
    return save_module(module, path)
