"""Parameterisations of the optimised image (Olah et al., Distill 2017): pixels in M&V's, ``[0, 1]``
or the network's input units, Lucent's Fourier and decorrelated-colour bases through a sigmoid, and
MACO's phase-only spectrum with the training photos' magnitude (Fel et al. 2023).

``get_parameterisation(name, net)`` for the names in :data:`PARAMETERISATIONS`.
"""

from __future__ import annotations

from deeprestore.inversion.parameterisations.base import Parameterisation
from deeprestore.inversion.parameterisations.colour import IMAGENET_COLOUR_SQRT, colour_basis_from_images
from deeprestore.inversion.parameterisations.decorrelated import DecorrelatedImage
from deeprestore.inversion.parameterisations.phase import PhaseImage
from deeprestore.inversion.parameterisations.pixels import MVPixels, ScaledPixels
from deeprestore.nets.feature_network import FeatureNetwork

__all__ = [
    "IMAGENET_COLOUR_SQRT",
    "PARAMETERISATIONS",
    "DecorrelatedImage",
    "MVPixels",
    "Parameterisation",
    "PhaseImage",
    "ScaledPixels",
    "colour_basis_from_images",
    "get_parameterisation",
]

#: the names :func:`get_parameterisation` knows, with what each is
PARAMETERISATIONS = {
    "pixels": "the image in M&V units (0–255, mean colour subtracted)",
    "unit-pixels": "the image in [0, 1]",
    "input-pixels": "the network's normalised input (x − mean) / std",
    "fourier": "1/f-scaled Fourier spectrum, through a sigmoid",
    "colour": "decorrelated colour (ImageNet's basis), through a sigmoid",
    "fourier+colour": "both (Lucent's default)",
    "phase": "Fourier phase with the training photos' mean magnitude, decorrelated colour, through a sigmoid (MACO; lossy)",
}


def get_parameterisation(name: str, net: FeatureNetwork | None = None) -> Parameterisation:
    """A parameterisation by name (see :data:`PARAMETERISATIONS`); ``input-pixels`` needs ``net``."""
    if name == "pixels":
        return MVPixels()
    if name == "unit-pixels":
        return ScaledPixels()
    if name == "input-pixels":
        if net is None:
            raise ValueError("the input-pixels parameterisation needs the network (its input normalisation)")
        return ScaledPixels(net.mean.flatten().tolist(), net.std.flatten().tolist(), name="input-pixels")
    if name in ("fourier", "colour", "fourier+colour"):
        return DecorrelatedImage(fourier="fourier" in name, colour="colour" in name)
    if name == "phase":
        return PhaseImage()
    raise ValueError(f"unknown parameterisation {name!r}; choose from {', '.join(PARAMETERISATIONS)}")
