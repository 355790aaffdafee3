"""The newer presets (DeepInversion, Lucent, Plug-In Inversion): their terms, schedules, energies and batches."""

from __future__ import annotations

import math

import pytest
import torch

from deeprestore.inversion import Phase, get_preset, invert, maximise_activation
from deeprestore.inversion.engine import cosine_schedule
from deeprestore.inversion.transforms import RandomTransforms
from deeprestore.nets import load_network
from deeprestore.priors import ImageNorm, NeighbourDifferenceNorm

NEW_PRESETS = ("deepinversion", "lucent", "plugin", "mv2016+bn", "mv2016-fourier")


def test_deepinversions_image_terms_in_closed_form():
    x = torch.zeros(1, 3, 4, 4)
    x[..., 2:] = 1.0  # a vertical edge between columns 1 and 2
    mean, std = (0.0, 0.0, 0.0), (2.0, 2.0, 2.0)
    # right: 4 rows × 3 channels of 0.5; down: none; the two diagonals: 3 × 3 each of 0.5
    expected = math.sqrt(12 * 0.25) + 2 * math.sqrt(9 * 0.25)
    torch.testing.assert_close(NeighbourDifferenceNorm(mean, std)(x), torch.tensor([expected]))
    torch.testing.assert_close(ImageNorm(mean, std)(x), torch.tensor([math.sqrt(24 * 0.25)]))


def test_a_scaled_phase_stretches_its_schedule():
    phase = Phase(100, cosine_schedule(1.0, 100, warmup=10))
    assert phase.lr_at(0) == pytest.approx(0.1) and phase.lr_at(10) == pytest.approx(1.0) and phase.lr_at(55) == pytest.approx(0.5)
    short = phase.scaled(0.1)
    assert short.iterations == 10 and short.lr_at(1) == pytest.approx(1.0) and short.lr_at(5) == pytest.approx(phase.lr_at(50))


@pytest.mark.parametrize("name", NEW_PRESETS)
def test_each_new_preset_lowers_its_energy(name, photo_crops):
    net = load_network("efficientnet_lite0")
    preset = get_preset(name)
    scale = 40 / preset.iterations
    result = invert(net, photo_crops[:2], ["block2"], name, iterations_scale=scale, progress=False)
    history = result.history
    assert torch.isfinite(history).all() and not result.diverged
    assert (history[-5:].mean(0) < history[:5].mean(0)).all()
    assert result.images.shape == (2, 3, 64, 64) and result.images.min() >= -0.3 and result.images.max() <= 1.3


@pytest.mark.parametrize("name", ["deepinversion", "lucent"])
def test_an_images_result_does_not_depend_on_its_batch(name, photo_crops):
    net = load_network("efficientnet_lite0")
    scale = 6 / get_preset(name).iterations
    both = invert(net, photo_crops[:2], ["block1"], name, iterations_scale=scale, progress=False).images
    alone = invert(net, photo_crops[1:2], ["block1"], name, iterations_scale=scale, progress=False).images
    torch.testing.assert_close(both[1:], alone, atol=1e-4, rtol=0)


def test_plugins_stages_grow_the_resolution_and_its_ensemble_averages_copies():
    from deeprestore.inversion import minimise, stepper_factory

    resolutions = [p.resolution for p in get_preset("plugin").phases(None)]
    assert resolutions == sorted(resolutions) and resolutions[0] == 0.25 and resolutions[-1] == 1.0 and get_preset("plugin").ensemble == 4
    seen: list[float] = []

    def data(views: torch.Tensor) -> torch.Tensor:
        seen.append(float(views.detach().sum()))
        return views.pow(2).mean((1, 2, 3))

    start = torch.full((2, 3, 8, 8), 0.5)
    result = minimise(
        data,
        start,
        stepper_factory("adam"),
        [Phase(2, 0.01)],
        transforms=RandomTransforms(colour_shift=(0.5, 0.5)),
        ensemble=3,
        progress=False,
    )
    assert len(seen) == 2 * 3 + 1 and len(set(seen[:3])) == 3  # 3 differently shifted copies a step, then the final score
    low = minimise(data, start, stepper_factory("adam"), [Phase(1, 0.01, resolution=0.5)], progress=False)
    assert low.images.shape == start.shape and result.images.shape == start.shape
    with pytest.raises(ValueError, match="ensemble must be 1, or more with transforms"):
        minimise(data, start, stepper_factory("adam"), [Phase(1, 0.1)], ensemble=2)


@pytest.mark.parametrize("name", ["deepinversion", "lucent"])
def test_activation_maximisation_with_the_new_presets_raises_the_class_score(name):
    net = load_network("efficientnet_lite0")
    result = maximise_activation(
        net, "fc", 967, "class", size=(64, 64), preset=name, iterations_scale=30 / get_preset(name).iterations, progress=False
    )
    assert result.history[-3:].mean() < result.history[:3].mean()
