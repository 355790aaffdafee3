"""The project's trained inverting module at a case's layer, as one more reconstruction of its patches.

A ``train.py`` inverting network (``parallel``, ``joint`` … at the layer; Dosovitskiy & Brox 2016)
maps the layer's output to the image. It is comparable with the linear inverses only when the case's
features *are* that output and the case's input is the image: checked on photos before use.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from deeprestore.inverters import load_inverting_network
from deeprestore.studies.linear_inverse.layer_cases import LayerCase, LinearLayer

__all__ = ["trained_reconstruction"]


def trained_reconstruction(case: LayerCase, layer: LinearLayer, *, trusted: bool = False) -> Callable[[Tensor], Tensor]:
    """``features N×m`` (the case's, flattened) → the module's reconstruction ``N×n`` in the case's input
    units (the normalised image).

    Raises:
        ValueError: a checkpoint of another network, or whose layer is not the case's features of the image.
    """
    option = f"case {case.name()}: inverter"
    path = str(case.inverter.checkpoint)
    model = load_inverting_network(path, option, trusted=trusted)
    target = str(model.hparams.layer)
    if model.hparams.net != case.network:
        raise ValueError(f"case {case.name()}: the inverter {path} was trained for {model.hparams.net}, not {case.network}")
    photos = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        inputs = layer.inputs(photos)
        same_input = inputs.shape == photos.shape and torch.allclose(inputs.float(), model.net.normalize(photos), atol=1e-5)
        wanted = model.net.features(photos, target)[target]
        same_output = same_input and torch.allclose(layer.features(inputs).float(), wanted.flatten(1), atol=1e-4)
    if not same_output:
        raise ValueError(
            f"case {case.name()}: the inverter {path} inverts {target} of the image, which is not this case's features "
            "(name the whole stage from the image: its modules and nonlinearity)"
        )
    c, h, w = layer.grid.features
    size = layer.grid.image[1:]

    @torch.no_grad()
    def reconstruct(features: Tensor) -> Tensor:
        images = model(features.float().reshape(-1, c, h, w), size)
        return model.net.normalize(images).double().flatten(1)

    return reconstruct
