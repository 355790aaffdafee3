"""The ``maco`` preset (Fel et al. 2023) on EfficientNet-Lite0: its settings, a short run that raises
the target, and its attribution map."""

from __future__ import annotations

import pytest
import torch

from deeprestore.host_syncs import HostSyncCounter
from deeprestore.inversion import get_preset, maximise_activation, stepper_factory, unit_activation
from deeprestore.inversion.parameterisations import get_parameterisation
from deeprestore.inversion.presets.maco import MACO_BOX, MACO_CROPS, MACO_LR, maco_transforms
from deeprestore.inversion.seeds import index_seeds
from deeprestore.inversion.starts import initial_images
from deeprestore.inversion.steppers import NAdamStepper
from deeprestore.nets import load_network


@pytest.fixture(scope="module")
def net():
    return load_network("efficientnet_lite0")


def test_the_preset_is_macos_method():
    preset = get_preset("maco")
    assert (preset.optimizer, preset.parameterisation, preset.start, preset.ensemble) == ("nadam", "phase", "random-phase", MACO_CROPS)
    assert [(p.iterations, p.lr, p.jitter) for p in preset.phases(None)] == [(1000, MACO_LR, 1)] and preset.priors(None, None) == []
    visualising, inverting = maco_transforms(None), maco_transforms(8.0)
    assert visualising.box == MACO_BOX == (0.20, 0.25) and visualising.box_centre_sd == 0.15 and visualising.noise == 0.01
    assert inverting.box is None and inverting.noise == 0.01  # no zoomed view against a feature map
    assert isinstance(stepper_factory("nadam")(torch.zeros(1, 2, requires_grad=True), 0.1, 4), NAdamStepper)


def test_a_short_maco_run_raises_the_class_and_returns_its_attribution(net):
    k, size, steps = 967, (64, 64), 12
    result = maximise_activation(
        net, "fc", k, "class", size=size, preset="maco", iterations_scale=steps / 1000, progress=False, attribution=True
    )
    start = initial_images("random-phase", (1, 3, *size), index_seeds(1, 0), net, get_parameterisation("phase"))
    assert result.history.shape == (steps, 1) and result.images.shape == (1, 3, *size)

    def seen(images: torch.Tensor) -> torch.Tensor:  # the class as MACO scores it: the mean over 16 fixed random boxes
        boxes = maco_transforms(None)
        with torch.no_grad():
            return torch.stack([unit_activation(net(boxes(images, torch.Generator().manual_seed(s))), "class", k) for s in range(16)]).mean(
                0
            )

    before, after = seen(start), seen(result.images)
    assert after > before + 2, (before, after)
    attribution = result.attribution
    assert attribution.shape == result.images.shape and (attribution >= 0).all() and attribution.sum() > 0
    centre, corner = attribution[..., 24:40, 24:40].mean(), attribution[..., :16, :16].mean()
    assert centre > corner  # the boxes are centred at ½ ± 0.15 of the side: the middle is seen most
    plain = maximise_activation(net, "fc", k, "class", size=size, preset="maco", iterations_scale=2 / 1000, progress=False)
    assert plain.attribution is None  # only when asked


def test_the_maco_loop_never_waits_for_the_device(net):
    """Its boxes are sliced and resized, its noise drawn on the device, its NAdam schedule kept in
    Python numbers and its attribution summed in a tensor: more iterations, no more waits."""
    waits = []
    for steps in (2, 4, 8):
        with HostSyncCounter() as syncs:
            maximise_activation(
                net, "fc", 1, "class", size=(32, 32), preset="maco", iterations_scale=steps / 1000, progress=False, attribution=True
            )
        waits.append(syncs.total)
    assert waits[1] == waits[2], waits  # (the first run also measures the magnitude template)
