"""PPGN's code at an inverting network's layer: encoding a photo and decoding it is the inverter's
reconstruction, the code's maps are the network's, and other checkpoints are refused in one line."""

from __future__ import annotations

import pytest
import torch

from deeprestore.checkpoint_files import load_module_checkpoint
from deeprestore.inverters import InvertingNetwork
from deeprestore.nets import load_network
from deeprestore.studies.sampling.inverter_code import inverter_code

PHOTOS = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def test_the_code_of_a_photo_decodes_to_the_inverters_reconstruction(checkpoints):
    net = load_network("efficientnet_lite0")
    code = inverter_code(checkpoints["inverter"], net, PHOTOS)
    model = load_module_checkpoint(InvertingNetwork, checkpoints["inverter"], "test").eval()
    with torch.no_grad():
        z = code.encode(PHOTOS)
        features = net.features(PHOTOS, "block2")["block2"]
        torch.testing.assert_close(code.maps(z), features, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(code.decode(z).clamp(0, 1), model(features, (32, 32)), atol=1e-5, rtol=0)
    assert code.layer == "block2"
    assert z.mean(dim=(0, 2, 3)).abs().max() < 1e-4  # standardised on these photos


def test_an_inverter_of_another_network_or_a_prior_is_refused(checkpoints):
    with pytest.raises(ValueError, match="inverts efficientnet_lite0, the study samples through efficientnet_lite1"):
        inverter_code(checkpoints["inverter"], load_network("efficientnet_lite1"), PHOTOS)
    with pytest.raises(ValueError, match="is not an inverting-network checkpoint"):
        inverter_code(checkpoints["dae"], load_network("efficientnet_lite0"), PHOTOS)
