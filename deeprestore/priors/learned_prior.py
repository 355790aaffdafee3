"""Learned patch priors as :class:`~deeprestore.priors.base.ImagePrior` terms of the inversion.

MSc thesis "Deep Restoration" §3.3 and figure 3: an image prior replaces (or joins) M&V's
hand-crafted terms; a feature-map prior constrains the network's intermediate representation
``Φ_l(x)`` of the pre-image. Both are the field energy of a trained
:class:`~deeprestore.priors.patch_energy.PatchEnergy` (thesis eq. 9) divided by the number of
patch positions, so a weight means the same at any image size (the thesis weighs raw sums: ICA at
1e-4 at AlexNet conv1 against the normalised loss).

Precision: float32 whatever the input (bf16 is cast up) and with any autocast turned off inside
(Lightning's ``bf16-mixed``): the energies are sums over every patch position, and the gradient of
a log-cosh or Student-t expert is what the optimisation follows.
"""

from __future__ import annotations

from torch import Tensor

from deeprestore.nets.feature_network import FeatureNetwork
from deeprestore.precision import compute_dtype, full_precision
from deeprestore.priors.base import ImagePrior
from deeprestore.priors.patch_energy import PatchEnergy
from deeprestore.priors.patches import to_grey

__all__ = ["FeatureMapPrior", "PatchImagePrior"]


def _mean_field_energy(energy: PatchEnergy, maps: Tensor) -> Tensor:
    h, w = maps.shape[-2:]
    positions = (h - energy.size + 1) * (w - energy.size + 1)
    return energy.field_energy(maps.float()) / positions


class PatchImagePrior(ImagePrior):
    """A patch prior on the image (``[0, 1]`` library units, grey or colour as trained): ``(N,)``."""

    def __init__(self, energy: PatchEnergy) -> None:
        super().__init__()
        if energy.channels not in (1, 3):
            raise ValueError(f"an image prior models 1 or 3 channels, this one {energy.channels}: use FeatureMapPrior")
        self.energy = energy.eval().requires_grad_(False)

    def forward(self, images: Tensor) -> Tensor:
        with full_precision(images.device):
            images = images.to(compute_dtype(images))
            maps = to_grey(images) if self.energy.channels == 1 else images
            return _mean_field_energy(self.energy, maps)

    @property
    def name(self) -> str:
        return f"{self.energy.expert_name}-image"


class FeatureMapPrior(ImagePrior):
    """A patch prior on ``net``'s feature maps at ``layer``: the energy of ``Φ_layer(x)``, ``(N,)``."""

    def __init__(self, energy: PatchEnergy, net: FeatureNetwork, layer: str) -> None:
        super().__init__()
        net.check_layer(layer)
        self.energy = energy.eval().requires_grad_(False)
        self.net, self.layer = net, layer

    def forward(self, images: Tensor) -> Tensor:
        with full_precision(images.device):
            maps = self.net.features(images.to(compute_dtype(images)), self.layer)[self.layer]
            if maps.shape[1] != self.energy.channels:
                raise ValueError(f"{self.layer} has {maps.shape[1]} channels, the prior models {self.energy.channels}")
            return _mean_field_energy(self.energy, maps)

    @property
    def name(self) -> str:
        return f"{self.energy.expert_name}-{self.layer}"
