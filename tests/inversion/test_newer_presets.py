"""The newer literature in the engine: DeepInversion's BN statistics prior, Lucent's parameterisations
and transforms, Plug-In Inversion's ensemble and progressive resolution, and their presets."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from deeprestore.inversion import Execution, NormalisedFeatureLoss, Phase, get_preset, invert, maximise_activation
from deeprestore.inversion.engine import cosine_schedule
from deeprestore.inversion.network_priors import WithBatchNormPrior
from deeprestore.inversion.parameterisations import PARAMETERISATIONS, colour_basis_from_images, get_parameterisation
from deeprestore.inversion.parameterisations.fourier import frequency_scale, image_to_spectrum, spectrum_to_image
from deeprestore.inversion.presets.translations import capped_roll, capped_shift
from deeprestore.inversion.transforms import LUCENT_ANGLES, LUCENT_SCALES, RandomTransforms
from deeprestore.nets import load_network, network_from_module
from deeprestore.priors import BatchNormStatistics, ImageNorm, NeighbourDifferenceNorm
from deeprestore.priors.batchnorm_statistics import FIRST_BN_MULTIPLIER, batchnorm_layers, statistics_distance
from deeprestore.priors.units import IMAGENET_MEAN_255

NEW_PRESETS = ("deepinversion", "lucent", "plugin", "mv2016+bn", "mv2016-fourier")


# -- the batch-norm statistics prior -----------------------------------------------------------


def small_bn_net(dtype: torch.dtype = torch.float32):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 5, 3, stride=2, padding=1),
        nn.BatchNorm2d(5),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(5, 3),
    )
    for bn in (model[1], model[4]):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    return network_from_module(model.to(dtype), "bn-net", mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)).to(dtype)


def test_the_distance_is_zero_for_activations_built_with_the_stored_statistics():
    mean, var = torch.tensor([0.3, -1.0, 2.0]), torch.tensor([0.5, 1.0, 4.0])
    z = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    z = (z - z.mean((2, 3), keepdim=True)) / z.std((2, 3), correction=0, keepdim=True)  # per image: mean 0, variance 1
    x = mean.view(1, 3, 1, 1) + var.sqrt().view(1, 3, 1, 1) * z
    v, m = torch.var_mean(x, dim=(2, 3), correction=0)
    torch.testing.assert_close(statistics_distance(m, v, mean, var), torch.zeros(2), atol=1e-5, rtol=0)
    # and the closed form off the stored statistics: ‖Δμ‖ + ‖Δσ²‖
    shifted = statistics_distance(m + torch.tensor([3.0, 0.0, 4.0]), v, mean, var)
    torch.testing.assert_close(shifted, torch.full((2,), 5.0), atol=1e-4, rtol=0)


def test_the_prior_is_zero_when_the_network_stored_this_images_statistics():
    net = small_bn_net()
    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    model = net.model
    with torch.no_grad():  # store image 0's own statistics in both BN layers
        first = model[0](net.normalize(images[:1]))
        model[1].running_var, model[1].running_mean = (t.flatten() for t in torch.var_mean(first, dim=(0, 2, 3), correction=0))
        second = model[3](model[2](model[1](first)))
        model[4].running_var, model[4].running_mean = (t.flatten() for t in torch.var_mean(second, dim=(0, 2, 3), correction=0))
    prior = BatchNormStatistics(net)
    with prior.recording():
        net(images)
    assert prior.layers_recorded == 2
    energy = prior.energy()
    assert energy[0].abs() < 1e-4 and energy[1] > 0.01


def test_the_first_bn_layer_weighs_ten_times_and_batch_statistics_are_shared():
    net = small_bn_net()
    prior = BatchNormStatistics(net)
    assert list(prior.weights.values()) == [FIRST_BN_MULTIPLIER, 1.0]
    with pytest.raises(ValueError, match="no batch-norm layer named 'nope'"):
        BatchNormStatistics(net, {"nope": 1.0})
    batch = BatchNormStatistics(net, statistics="batch")
    with batch.recording():
        net(torch.rand(3, 3, 16, 16))
    values = batch.energy()
    assert values.shape == (3,) and torch.allclose(values, values[0].expand(3))
    with pytest.raises(RuntimeError, match="no batch-norm statistics recorded"):
        batch.energy()


def test_the_prior_gradient_agrees_with_finite_differences():
    net = small_bn_net(torch.float64)
    prior = BatchNormStatistics(net)
    term = WithBatchNormPrior(lambda x: net(x).sum(1) * 0.0, prior, 1.0)
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(2)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda images: term(images), (x,), eps=1e-6, atol=1e-5)


def test_hooks_see_only_the_bn_layers_up_to_the_target_one_pass_shared():
    net = load_network("torchvision/resnet18", "random", seed=0)
    assert len(batchnorm_layers(net)) == 20
    prior = BatchNormStatistics(net)
    calls = []
    handle = net.model.conv1.register_forward_hook(lambda *a: calls.append(1))
    try:
        with prior.recording():
            net.features(torch.rand(1, 3, 64, 64), "layer1")
    finally:
        handle.remove()
    assert prior.layers_recorded == 1 + 4 and len(calls) == 1  # bn1 and layer1's four, in one pass
    images = torch.rand(1, 3, 64, 64)
    past = NormalisedFeatureLoss.from_images(
        net, {"layer1": 1.0}, images, run_to=net.logits_layer, execution=Execution(fold_batchnorm=False)
    )
    with prior.recording():
        past(images)
    assert prior.layers_recorded == 20  # run on to the logits: every BN layer
    folded = NormalisedFeatureLoss.from_images(net, {"layer1": 1.0}, images)  # the default folds BN away: refused, one line
    with pytest.raises(ValueError, match="folded or compiled"):
        WithBatchNormPrior(folded, prior, 0.01)


def test_a_natural_photo_fits_efficientnets_stored_statistics_better_than_noise(photo_crops):
    net = load_network("efficientnet_lite0")
    prior = BatchNormStatistics(net)
    noise = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with prior.recording():
        net.features(torch.cat([photo_crops[:4], noise]), "block8")
    energy = prior.energy()
    assert energy[:4].max() < energy[4:].min()


def test_deepinversions_image_terms_in_closed_form():
    x = torch.zeros(1, 3, 4, 4)
    x[..., 2:] = 1.0  # a vertical edge between columns 1 and 2
    mean, std = (0.0, 0.0, 0.0), (2.0, 2.0, 2.0)
    # right: 4 rows × 3 channels of 0.5; down: none; the two diagonals: 3 × 3 each of 0.5
    expected = math.sqrt(12 * 0.25) + 2 * math.sqrt(9 * 0.25)
    torch.testing.assert_close(NeighbourDifferenceNorm(mean, std)(x), torch.tensor([expected]))
    torch.testing.assert_close(ImageNorm(mean, std)(x), torch.tensor([math.sqrt(24 * 0.25)]))


# -- parameterisations --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PARAMETERISATIONS))
def test_decode_of_encode_is_the_image(name, photo_crops):
    net = load_network("efficientnet_lite0")
    param = get_parameterisation(name, net)
    x = photo_crops[:3].clamp(0.01, 0.99)
    torch.testing.assert_close(param.decode(param.encode(x), (64, 64)), x, atol=2e-5, rtol=0)


def test_a_constant_image_maps_where_it_should():
    grey = torch.full((1, 3, 8, 10), 0.5)
    assert get_parameterisation("colour").encode(grey).abs().max() < 1e-6  # the sigmoid's centre
    assert get_parameterisation("fourier+colour").encode(grey).abs().max() < 1e-5
    mean_colour = torch.tensor(IMAGENET_MEAN_255).view(1, 3, 1, 1).expand(1, 3, 8, 10) / 255
    assert get_parameterisation("pixels").encode(mean_colour).abs().max() < 1e-4
    spectrum = image_to_spectrum(torch.full((1, 3, 8, 10), 0.7))  # only the DC term: 4·0.7·√(HW) / max(H, W)
    dc = spectrum[..., 0, 0, 0]
    torch.testing.assert_close(dc, torch.full((1, 3), 4 * 0.7 * math.sqrt(80) / 10))
    spectrum[..., 0, 0, :] = 0
    assert spectrum.abs().max() < 1e-5


def test_the_fourier_basis_scales_each_frequency_by_one_over_f():
    scale = frequency_scale((16, 16))
    assert scale[0, 0] == 16 and scale[0, 4] == pytest.approx(4.0) and scale[4, 0] == pytest.approx(4.0)
    for k in (1, 4):  # a unit coefficient at horizontal frequency k/16 gives a cosine of amplitude ∝ 1/f
        spectrum = torch.zeros(1, 1, 16, 9, 2)
        spectrum[0, 0, 0, k, 0] = 1.0
        wave = spectrum_to_image(spectrum, (16, 16))[0, 0]
        amplitude = wave.abs().max()
        torch.testing.assert_close(amplitude, torch.tensor(2 / 16 * 16 / k / 4))


def test_a_colour_basis_measured_on_photos_whitens_their_colours(photo_crops):
    basis = colour_basis_from_images(photo_crops)
    pixels = photo_crops.permute(1, 0, 2, 3).reshape(3, -1)
    whitened = torch.linalg.solve(basis.double(), pixels.double() - pixels.double().mean(1, keepdim=True))
    cov = torch.cov(whitened)
    off = cov - torch.diag(torch.diag(cov))
    assert off.abs().max() < 1e-6 * cov.diag().max() and torch.allclose(cov.diag(), cov.diag()[0].expand(3), rtol=1e-6)


# -- transforms ---------------------------------------------------------------------------------


def test_each_transform_is_differentiable_and_keeps_the_batch_shape():
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    for transforms in (
        RandomTransforms(pad=12, jitter=8, jitter_after=4),
        RandomTransforms(scales=LUCENT_SCALES),
        RandomTransforms(angles=LUCENT_ANGLES),
        RandomTransforms(roll=5),
        RandomTransforms(flip=True),
        RandomTransforms(colour_shift=(1.0, 1.0)),
    ):
        out = transforms(x, torch.Generator().manual_seed(3))
        assert out.shape == x.shape
        (grad,) = torch.autograd.grad(out.sum(), x)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_no_transform_is_the_identity_and_a_colour_shift_is_affine_per_channel():
    x = torch.rand(2, 3, 16, 16)
    assert torch.equal(RandomTransforms()(x, torch.Generator()), x)
    out = RandomTransforms(colour_shift=(1.0, 1.0))(x, torch.Generator().manual_seed(0))
    for c in range(3):  # out = σ_c x + μ_c with σ_c in [1/e, e], μ_c in [−1, 1], the same for every image and pixel
        sigma = (out[0, c, 0, 0] - out[0, c, 0, 1]) / (x[0, c, 0, 0] - x[0, c, 0, 1])
        mu = out[0, c, 0, 0] - sigma * x[0, c, 0, 0]
        torch.testing.assert_close(out[:, c], sigma * x[:, c] + mu, atol=1e-4, rtol=0)
        assert math.exp(-1) <= float(sigma) <= math.e and -1 <= float(mu) <= 1
    rolled = RandomTransforms(roll=3)(x, torch.Generator().manual_seed(0))
    assert any(torch.equal(rolled, torch.roll(x, (dy, dx), (-2, -1))) for dy in range(-3, 4) for dx in range(-3, 4))


def test_the_composed_warp_equals_the_warps_one_after_the_other():
    from torchvision.transforms.v2 import functional as TF

    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 64), torch.linspace(-1, 1, 64), indexing="ij")
    smooth = torch.stack([torch.sin(2 * xx + yy), torch.cos(3 * yy), xx * yy]).unsqueeze(0)
    transforms = RandomTransforms(jitter=8, angles=(9.0,), scales=(1.08,))
    composed = transforms(smooth, torch.Generator().manual_seed(5))
    first = torch.Generator().manual_seed(5)  # the warp's first draws: the translation before the scale and rotation
    shift = [float(torch.randint(8, (1,), generator=first)) for _ in range(2)]
    assert shift != [0.0, 0.0]
    moved = TF.affine(smooth, angle=0.0, translate=shift, scale=1.0, shear=[0.0, 0.0])
    stepwise = TF.affine(moved, angle=9.0, translate=[0.0, 0.0], scale=1.08, shear=[0.0, 0.0], interpolation=TF.InterpolationMode.BILINEAR)
    inner = (slice(None), slice(None), slice(16, 48), slice(16, 48))
    assert (composed[inner] - stepwise[inner]).abs().max() < 0.05


def test_translations_are_held_within_mv_jitter_in_an_inversion():
    assert capped_shift(8, 2) == 1 and capped_shift(8, 32) == 8 and capped_shift(8, None) == 8
    assert capped_roll(30, 4) == 0 and capped_roll(30, 32) == 3 and capped_roll(30, None) == 30


# -- schedules, presets, the engine -------------------------------------------------------------


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


def test_the_visualisation_study_scores_each_class_image(tmp_path):
    from deeprestore.studies.cli import main as evaluate

    rows = evaluate(
        [
            "visualise",
            "--classes",
            "1",
            "967",
            "--optimisation.presets",
            "mv2016",
            "lucent",
            "--optimisation.budget",
            "40",
            "--image_size",
            "64",
            "--report_root",
            str(tmp_path),
            "--experiment",
            "vis",
            "--wandb",
            "disabled",
            "--progress",
            "false",
        ]
    )
    assert [(r["preset"], r["class_index"]) for r in rows] == [("mv2016", 1), ("mv2016", 967), ("lucent", 1), ("lucent", 967)]
    assert rows[1]["class_name"] == "espresso" and all(r["probability"] > 5 / 1000 for r in rows)  # above chance (1/1000)
    assert (tmp_path / "vis" / "classes.png").is_file() and "top-1 is the class" in (tmp_path / "vis" / "report.md").read_text()
