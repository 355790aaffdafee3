"""A trained inverting module as one more reconstruction: used where the case's features are its layer's
output of the image, refused elsewhere (an untrained module here: plumbing)."""

from __future__ import annotations

import pytest
import torch

from deeprestore.studies.linear_inverse.layer_cases import LayerCase, build_layer
from deeprestore.studies.linear_inverse.trained_inverter import trained_reconstruction
from deeprestore.studies.option_groups import InverterOptions
from tests.tiny_checkpoints import inverter

STEM = ["stages.stem.0", "stages.stem.1"]


def test_the_stem_module_reconstructs_the_cases_patches_in_its_input_units(tmp_path):
    path = inverter(tmp_path / "stem.ckpt", layer="stem", mode="parallel")
    case = LayerCase(network="efficientnet_lite0", modules=STEM, nonlinearity="relu6", size=8, inverter=InverterOptions(path))
    layer = build_layer(case)
    reconstruct = trained_reconstruction(case, layer)
    patches = layer.inputs(torch.rand(3, 3, 8, 8))
    out = reconstruct(layer.features(patches))
    assert out.shape == (3, 192) and out.dtype == torch.float64 and bool(torch.isfinite(out).all())


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (LayerCase(network="efficientnet_lite0", modules=STEM, size=8), "not this case's features"),  # no ReLU6
        (LayerCase(network="efficientnet_lite0", modules=["stages.block1.depthwise_conv"], size=8), "not this case's features"),
    ],
)
def test_a_module_of_another_layer_is_refused(case, message, tmp_path):
    case.inverter = InverterOptions(inverter(tmp_path / "stem.ckpt", layer="stem", mode="parallel"))
    with pytest.raises(ValueError, match=message):
        trained_reconstruction(case, build_layer(case))


def test_a_random_case_has_no_trained_module():
    with pytest.raises(ValueError, match="no trained inverter"):
        LayerCase(inverter=InverterOptions("x.ckpt")).check()
