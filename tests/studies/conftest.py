"""Fixtures of the study tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import skimage.data
from PIL import Image

from tests.tiny_checkpoints import dae_prior, feature_map_vae, generator, inverter, patch_prior


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> Path:
    """A folder of three 48×48 PNG crops of real photos (astronaut, chelsea, coffee): an odd count,
    so that two DDP ranks get uneven shares."""
    folder = tmp_path_factory.mktemp("photos")
    for name, (top, left) in {"astronaut": (60, 200), "coffee": (120, 260), "chelsea": (50, 150)}.items():
        Image.fromarray(getattr(skimage.data, name)()[top : top + 48, left : left + 48]).save(folder / f"{name}.png")
    return folder


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory) -> dict[str, str]:
    """Tiny checkpoints of DAE image priors (σ = 0.1, 0.3, 0.03), an ICA prior at block1, a grey FoE, a VAE generator, an
    inverting network, a DAE prior and a feature-map VAE at block2."""
    root = tmp_path_factory.mktemp("ckpt")
    return {
        "dae": dae_prior(root / "prior_dae_image" / "last.ckpt"),
        "dae_sigma0.3": dae_prior(root / "prior_dae_image_sigma0.3" / "last.ckpt", sigma=0.3),
        "dae_sigma0.03": dae_prior(root / "prior_dae_image_sigma0.03" / "last.ckpt", sigma=0.03),
        "ica": patch_prior(root / "prior_ica_block1" / "last.ckpt", net="efficientnet_lite0", layer="block1"),
        "foe": patch_prior(root / "prior_foe_grey" / "last.ckpt", grey=True),
        "generator": generator(root / "generator_vae_conv" / "last.ckpt"),
        "inverter": inverter(root / "efficientnet_lite0_block2_joint" / "last.ckpt", "block2"),
        "vae_block2": feature_map_vae(root / "vae_block2" / "last.ckpt"),
        "dae_block2": dae_prior(root / "prior_dae_block2" / "last.ckpt", residual=True, net="efficientnet_lite0", layer="block2"),
    }
