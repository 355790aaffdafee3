"""PPGN's code space: the standardised feature maps at an inverting network's layer, decoded to an
image by that network (Nguyen et al. 2016, "Plug & Play Generative Networks", §2–3: the chain moves
in a feature space ``h`` and a generator ``G`` maps it to the image).

Here ``G`` is the project's own inverting network (``train.py``; Dosovitskiy & Brox 2016) at layer
``L`` of the sampled network, so ``h`` is ``Φ_L`` of an image and a feature-map prior at ``L`` (a DAE
on ``Φ_L``, PPGN's ``p(h)``) reads the chain's state directly. The chain's variable is ``z`` with
``h = μ + σ ⊙ z`` per channel (μ, σ of the maps of real photos; :func:`~deeprestore.studies.inverter_generator.inverter_generator`),
so one Langevin step size suits every channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from deeprestore.checkpoint_files import read_checkpoint
from deeprestore.generative.staged_generator import StagedGenerator
from deeprestore.nets import FeatureNetwork
from deeprestore.studies.inverter_generator import inverter_generator

__all__ = ["InverterCode", "inverter_code"]


@dataclass
class InverterCode:
    """A generator's code at one layer of the sampled network.

    Attributes:
        layer: the layer whose maps ``h`` the code standardises.
        generator: ``z (N×C×h×w) ↦ image (N×3×H×W)`` in [0, 1] units, not clamped; stage 0 is ``z ↦ h``.
        net: the sampled network (its maps at ``layer`` of an image are the image's code).
    """

    layer: str
    generator: StagedGenerator
    net: FeatureNetwork

    def maps(self, z: Tensor) -> Tensor:
        """``h = μ + σ ⊙ z``, the layer's maps ``N×C×h×w``."""
        return self.generator.forward_to(1, z)

    def decode(self, z: Tensor) -> Tensor:
        """The generator's image of ``z``, ``N×3×H×W`` (unclamped)."""
        return self.generator(z)

    def image(self, z: Tensor) -> Tensor:
        """The generator's image of ``z`` clamped to [0, 1], ``N×3×H×W`` (what the chain's image-level terms read)."""
        return self.decode(z).clamp(0, 1)

    def encode(self, images: Tensor) -> Tensor:
        """``z`` of images ``N×3×H×W`` in [0, 1]: their standardised maps at the layer."""
        affine = self.generator.stages[0].linear
        return (self.net.features(images, self.layer)[self.layer].float() - affine.mean) / affine.std


def inverter_code(checkpoint: str | Path, net: FeatureNetwork, photos: Tensor, *, trusted: bool = False) -> InverterCode:
    """The code of an inverting-network checkpoint of ``net``, standardised on ``photos`` (``N×3×H×W`` in [0, 1]
    at the sampled size).

    Raises:
        ValueError: an inverter of another network, or not an inverting-network checkpoint.
    """
    hp = read_checkpoint(checkpoint, "a configuration's generator", trusted=trusted).get("hyper_parameters", {})
    if not {"net", "layer", "mode"} <= set(hp):
        raise ValueError(f"generator {checkpoint} is not an inverting-network checkpoint (train one with python train.py)")
    if hp["net"] != net.name:
        raise ValueError(f"generator {checkpoint} inverts {hp['net']}, the study samples through {net.name}")
    generator, _ = inverter_generator(checkpoint, photos, trusted=trusted)
    return InverterCode(str(hp["layer"]), generator, net)
