"""The optimisation engine: steppers in closed form, divergence isolation, bound, jitter, losses."""

from __future__ import annotations

import pytest
import torch

from deeprestore.host_syncs import HostSyncCounter
from deeprestore.inversion import NormalisedFeatureLoss, Phase, invert, invert_features, minimise, stepper_factory
from deeprestore.inversion.jitter import centre_offset, draw_offset, jitter_for_stride
from deeprestore.inversion.seeds import image_seeds
from deeprestore.inversion.steppers import AdaptiveStepGD, MomentumRMSprop
from deeprestore.nets import load_network
from deeprestore.priors import BoundedRange
from deeprestore.priors.units import B_PLUS, to_mv_units


def test_momentum_rmsprop_first_two_steps_in_closed_form():
    x = torch.tensor([[1.0, -2.0]], requires_grad=True)
    stepper = MomentumRMSprop(x, lr=0.5, num_pixels=4, momentum=0.9)  # η' = 2
    energy = lambda: (x**2).sum(1)  # noqa: E731  g = 2x
    stepper.step(energy)
    g = torch.tensor([2.0, -4.0])
    mu = -g / (1 / 2 + g.abs())
    torch.testing.assert_close(x.detach()[0], torch.tensor([1.0, -2.0]) + mu)
    x1 = x.detach()[0].clone()
    stepper.step(energy)
    g2 = 2 * x1
    squares = 0.9 * g**2 + g2**2
    mu2 = 0.9 * mu - g2 / (1 / 2 + squares.sqrt())
    torch.testing.assert_close(x.detach()[0], x1 + mu2)
    stepper.set_lr(0.25)  # a new rate resets the velocity
    assert stepper.velocity.abs().sum() == 0


def test_adaptive_step_grows_after_success_and_undoes_a_failed_step():
    x = torch.tensor([[3.0], [3.0]], requires_grad=True)
    stepper = AdaptiveStepGD(x, lr=torch.tensor(0.1).item(), grow=1.1, shrink=0.5)
    stepper.h = torch.tensor([0.1, 2.0])  # image 0: a good step; image 1: overshoots (x → 3 − 2·6 = −9)
    stepper.step(lambda: (x**2).sum(1))
    torch.testing.assert_close(x.detach(), torch.tensor([[3.0 - 0.1 * 6.0], [3.0]]))
    torch.testing.assert_close(stepper.h, torch.tensor([0.11, 1.0]))


def quadratic_data(targets: torch.Tensor):
    return lambda images: (images - targets).flatten(1).pow(2).sum(1)


def test_a_diverging_image_stops_alone_and_the_others_are_untouched():
    torch.manual_seed(0)
    targets = torch.rand(3, 3, 8, 8)

    def data(images: torch.Tensor) -> torch.Tensor:
        value = (images - targets[: len(images)]).flatten(1).pow(2).sum(1)
        if len(images) == 3:  # image 1 blows up once it gets close to its target
            value = torch.where((torch.arange(3) == 1) & (value < 5.0), torch.full_like(value, float("nan")), value)
        return value

    init = torch.full((3, 3, 8, 8), 0.5)
    phases = [Phase(40, 2.0)]  # Adam, in M&V units (0–255)
    result = minimise(data, init, stepper_factory("adam"), phases, progress=False)
    assert result.diverged == [1] and result.diverged_at[1] is not None
    assert torch.isfinite(result.images).all()
    assert torch.isnan(result.history[-1, 1]) and torch.isfinite(result.history[-1, [0, 2]]).all()
    alone = minimise(
        lambda im: (im - targets[[0, 2]]).flatten(1).pow(2).sum(1), init[[0, 2]], stepper_factory("adam"), phases, progress=False
    )
    torch.testing.assert_close(result.images[[0, 2]], alone.images)


def test_snapshots_are_the_images_a_shorter_run_ends_with():
    """The snapshot after the first phase is what a run of that phase alone returns (same jitter
    draws), iteration 0 is the start, the last is the final images, and none are kept by default."""
    torch.manual_seed(0)
    targets, init = torch.rand(2, 3, 8, 8), torch.full((2, 3, 8, 8), 0.5)
    first, second = Phase(12, 2.0, jitter=3), Phase(6, 0.2)
    both = minimise(quadratic_data(targets), init, stepper_factory("adam"), [first, second], progress=False, snapshot_every=4)
    alone = minimise(quadratic_data(targets), init, stepper_factory("adam"), [first], progress=False)
    assert list(both.snapshots) == [0, 4, 8, 12, 16, 18]
    torch.testing.assert_close(both.snapshots[0], init)
    torch.testing.assert_close(both.snapshots[12], alone.images)
    torch.testing.assert_close(both.snapshots[18], both.images)
    assert not (both.snapshots[4] - both.snapshots[8]).abs().max() < 1e-6  # it moves between snapshots
    assert alone.snapshots == {}
    with pytest.raises(ValueError, match="snapshot_every"):
        minimise(quadratic_data(targets), init, stepper_factory("adam"), [first], progress=False, snapshot_every=-1)


def test_bounded_range_bound_is_never_exceeded():
    seen = []
    push = torch.zeros(2, 3, 6, 6)
    push[0] = 5.0  # far beyond white
    push[1, 0] = -4.0

    def data(images: torch.Tensor) -> torch.Tensor:
        seen.append(float(to_mv_units(images.detach()).norm(dim=1).max()))
        return (images - push).flatten(1).pow(2).sum(1)

    minimise(data, torch.full((2, 3, 6, 6), 0.5), stepper_factory("adam"), [Phase(30, 5.0)], priors=[(BoundedRange(), 0.0)], progress=False)
    assert max(seen[1:]) <= B_PLUS * (1 + 1e-5) and max(seen[1:]) > 0.99 * B_PLUS


def test_jitter_amount_offsets_and_canvas():
    assert [jitter_for_stride(s) for s in (2, 4, 8, 16, 32, None)] == [1, 1, 2, 4, 8, 1]
    g = torch.Generator().manual_seed(0)
    offsets = {draw_offset(4, g) for _ in range(200)}
    assert offsets == {(dy, dx) for dy in range(4) for dx in range(4)}
    assert draw_offset(1, g) == (0, 0) and centre_offset(4) == (1, 1)
    views = []

    def data(images: torch.Tensor) -> torch.Tensor:
        views.append(images.detach().clone())
        return images.flatten(1).pow(2).sum(1) * 0

    ramp = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 3, 8, 8) / 10
    minimise(data, ramp, stepper_factory("adam"), [Phase(20, 0.0, jitter=3), Phase(3, 0.0, jitter=1)], progress=False)
    assert all(v.shape == (1, 3, 8, 8) for v in views)
    assert len({round(float(v[0, 0, 0, 4]), 4) for v in views[:20]}) > 1  # the crops moved
    assert len({round(float(v[0, 0, 0, 4]), 4) for v in views[20:-1]}) == 1  # no jitter in the final phase


def test_multi_layer_loss_is_the_weighted_sum_and_bad_targets_are_errors():
    net = load_network("efficientnet_lite0", weights="random")
    images, other = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    both = NormalisedFeatureLoss.from_images(net, {"stem": 2.0, "block2": 3.0}, images)(other)
    stem = NormalisedFeatureLoss.from_images(net, {"stem": 1.0}, images)(other)
    block2 = NormalisedFeatureLoss.from_images(net, {"block2": 1.0}, images)(other)
    torch.testing.assert_close(both, 2 * stem + 3 * block2)
    assert torch.allclose(NormalisedFeatureLoss.from_images(net, {"stem": 1.0}, images)(images), torch.zeros(2), atol=1e-6)
    with pytest.raises(ValueError, match="all zero for images"):
        NormalisedFeatureLoss(net, {"stem": 1.0}, {"stem": torch.zeros(1, 32, 16, 16)})
    with pytest.raises(ValueError, match="NaN or inf"):
        NormalisedFeatureLoss(net, {"stem": 1.0}, {"stem": torch.full((1, 32, 16, 16), float("nan"))})
    with pytest.raises(ValueError, match="valid layers"):
        NormalisedFeatureLoss.from_images(net, {"conv1": 1.0}, images)


def test_mv2016_beats_plain_gradient_descent_on_a_real_network(photo_crops):
    net = load_network("efficientnet_lite0")
    images = photo_crops[[0, 20], :, :48, :48]
    target = net.features(images, "block1")["block1"]
    errors = {}
    for preset in ("mv2016", "gd-plain"):
        result = invert(net, images, ["block1"], preset, iterations_scale=0.3, progress=False)
        assert result.diverged == []
        rec = net.features(result.images, "block1")["block1"]
        errors[preset] = ((rec - target).flatten(1).norm(dim=1) / target.flatten(1).norm(dim=1)).max().item()
    assert errors["mv2016"] < 0.35 and errors["mv2016"] < errors["gd-plain"], errors


def test_mv2016_data_weight_follows_the_authors_table_and_the_calibrated_one():
    from deeprestore.inversion.presets import mv2016_data_weight

    # the authors' AlexNet ladder: stride ≤ 4 → 300, 8 → 100, 16 → 20, deeper / vectors → 1
    assert [mv2016_data_weight(s, "alexnet") for s in (4.0, 8.0, 16.0, 32.0, None)] == [300, 100, 20, 1, 1]
    # EfficientNet-Lite0's calibrated table: 300 to stride 16, 20 at 32
    assert [mv2016_data_weight(s, "efficientnet_lite0") for s in (2.0, 8.0, 14.3, 32.0, 64.0, None)] == [300, 300, 300, 20, 1, 1]


# -- the Python API's input checks and batch independence ----------------------------------------
@pytest.fixture(scope="module")
def lite0():
    return load_network("efficientnet_lite0")


def test_invert_refuses_images_on_another_scale_or_shape(lite0, photo_crops):
    from deeprestore.inversion import caricature, maximise_activation

    x = photo_crops[:2, :, :32, :32]
    cases = [
        ((x * 255).to(torch.uint8), r"float tensor .*torch.uint8.*\.float\(\) / 255"),
        (x * 255, r"values in \[0, 1\].*0–255 scale: divide by 255"),
        (x * 2 - 1, r"values in \[0, 1\].*\[−1, 1\] scale"),
        (x[0], r"4-D .*add the batch dimension"),
        (x[:0], "empty batch"),
        (x[:, :1], "3 channels"),
        (torch.full_like(x, float("nan")), "non-finite"),
    ]
    for images, message in cases:
        with pytest.raises(ValueError, match=message):
            invert(lite0, images, ["stem"], iterations_scale=0.01, progress=False)
        with pytest.raises(ValueError, match=message):
            caricature(lite0, images, "stem", iterations_scale=0.01, progress=False)
    with pytest.raises(ValueError, match="init must have the shape"):
        invert(lite0, x, ["stem"], init=x[:1], progress=False)
    with pytest.raises(ValueError, match="non-empty list of layer names"):
        invert(lite0, x, "stem", progress=False)
    with pytest.raises(ValueError, match="num_images must be positive"):
        maximise_activation(lite0, "fc", 1, "class", num_images=0, progress=False)


def test_float64_images_are_inverted_in_the_network_dtype(lite0, photo_crops):
    x = photo_crops[:2, :, :32, :32]
    single = invert(lite0, x, ["block1"], iterations_scale=0.03, progress=False)
    double = invert(lite0, x.double(), ["block1"], iterations_scale=0.03, progress=False)
    assert double.images.dtype == torch.float32 and torch.equal(double.images, single.images)


def test_inverting_an_images_own_features_is_inverting_the_image(lite0, photo_crops):
    """``invert_features`` of an image's features, with its seeds, is ``invert`` bit for bit; targets
    that no image of the size gives, or of two batch sizes, are one line."""
    x = photo_crops[:2, :, :32, :32]
    targets = lite0.features(x, ["block1"])
    expected = invert(lite0, x, ["block1"], iterations_scale=0.03, progress=False).images
    found = invert_features(lite0, targets, (32, 32), iterations_scale=0.03, seeds=image_seeds(x, 0), progress=False).images
    assert torch.equal(found, expected)
    with pytest.raises(ValueError, match=r"targets at block1 have shape \(16, 16, 16\); an image of 48×48 gives \(16, 24, 24\)"):
        invert_features(lite0, targets, (48, 48), progress=False)
    with pytest.raises(ValueError, match="the same batch size"):
        invert_features(lite0, {"stem": lite0.features(x, ["stem"])["stem"], "block1": targets["block1"][:1]}, (32, 32), progress=False)


def test_an_image_reconstruction_does_not_depend_on_its_batch(lite0):
    """Per-image noise streams (keyed on the pixels) and one jitter stream: an image inverted in a
    batch of 4, alone, or in another order gives the same reconstruction. At 128² the CPU
    convolutions round the same at every batch size, so it is bitwise equal here; at other shapes
    kernels may round differently per batch size (1e-5 in the features at 64²), which is why a
    study keeps its batch size as a resume key."""
    import numpy as np
    import skimage.data

    photos = [
        torch.from_numpy(np.ascontiguousarray(getattr(skimage.data, n)())).permute(2, 0, 1).float() / 255 for n in ("astronaut", "coffee")
    ]
    x = torch.stack([p[:, t : t + 128, t : t + 128] for p in photos for t in (0, 150)])
    batch = invert(lite0, x, ["block4"], "mv2016", iterations_scale=0.05, progress=False).images
    for i in range(len(x)):
        alone = invert(lite0, x[i : i + 1], ["block4"], "mv2016", iterations_scale=0.05, progress=False).images
        torch.testing.assert_close(alone[0], batch[i], rtol=0, atol=1e-5)
    reordered = invert(lite0, x.flip(0), ["block4"], "mv2016", iterations_scale=0.05, progress=False).images.flip(0)
    torch.testing.assert_close(reordered, batch, rtol=0, atol=1e-5)
    other_seed = invert(lite0, x[:1], ["block4"], "mv2016", iterations_scale=0.05, seed=1, progress=False).images
    assert not torch.allclose(other_seed[0], batch[0], atol=1e-3)


def test_a_phase_prior_weight_scales_the_priors_and_the_fade_follows_its_schedule():
    from deeprestore.inversion.presets import get_preset, with_fading_priors
    from deeprestore.priors import TotalVariation

    torch.manual_seed(0)
    targets = torch.rand(2, 3, 8, 8)

    def data(images: torch.Tensor) -> torch.Tensor:
        return (images - targets).flatten(1).pow(2).sum(1)

    init = torch.full((2, 3, 8, 8), 0.5)
    tv = [(TotalVariation(beta=2.0), 50.0)]  # no projection: a zero weight must be no prior at all
    bare = minimise(data, init, stepper_factory("adam"), [Phase(20, 2.0)], progress=False)
    off = minimise(data, init, stepper_factory("adam"), [Phase(20, 2.0, prior_weight=0.0)], priors=tv, progress=False)
    on = minimise(data, init, stepper_factory("adam"), [Phase(20, 2.0)], priors=tv, progress=False)
    torch.testing.assert_close(off.images, bare.images)
    assert (on.images - bare.images).abs().max() > 1e-3
    half = minimise(data, init, stepper_factory("adam"), [Phase(20, 2.0, prior_weight=0.5)], priors=tv, progress=False)
    halved = minimise(data, init, stepper_factory("adam"), [Phase(20, 2.0)], priors=[(tv[0][0], 25.0)], progress=False)
    torch.testing.assert_close(half.images, halved.images)

    mv2016 = get_preset("mv2016")
    assert with_fading_priors(mv2016, 1.0) is mv2016
    first, second = with_fading_priors(mv2016, 0.2).phases(2)
    assert first.prior_weight_at(0) == 1.0 and first.prior_weight_at(first.iterations - 1) == pytest.approx(0.2)
    assert first.prior_weight_at(first.iterations // 2) == pytest.approx(1 - 0.8 * (first.iterations // 2) / (first.iterations - 1))
    assert second.prior_weight_at(0) == 0.2 and second.iterations == mv2016.phases(2)[1].iterations
    with pytest.raises(ValueError, match=r"final prior weight must be in \[0, 1\]"):
        with_fading_priors(mv2016, 1.5)


def test_the_calibrated_preset_takes_the_shipped_setting_of_its_layer(lite0, photo_crops):
    from deeprestore.inversion.calibration_table import calibrated_setting
    from deeprestore.inversion.presets import get_preset, with_fading_priors

    setting = calibrated_setting("efficientnet_lite0", "stem")
    assert setting is not None and calibrated_setting("efficientnet_lite0", "no-such-layer") is None
    images = photo_crops[:1, :, :32, :32]
    calibrated = invert(lite0, images, ["stem"], "mv2016-calibrated", iterations_scale=0.02, progress=False)
    by_hand = invert(
        lite0,
        images,
        ["stem"],
        with_fading_priors(get_preset("mv2016"), setting.prior_final),
        layer_weights={"stem": setting.data_weight},
        iterations_scale=0.02 * setting.iterations_scale,
        progress=False,
    )
    torch.testing.assert_close(calibrated.images, by_hand.images)
    two_layers = invert(lite0, images, ["stem", "block1"], "mv2016-calibrated", iterations_scale=0.02, progress=False)
    plain = invert(lite0, images, ["stem", "block1"], "mv2016", iterations_scale=0.02, progress=False)
    torch.testing.assert_close(two_layers.images, plain.images)  # several layers: no per-layer table applies


@pytest.mark.parametrize("progress", [False, True])
def test_the_engine_loop_waits_for_the_device_at_most_once_in_ten_iterations(lite0, photo_crops, progress):
    """Counted on the CPU (HostSyncCounter): the default path's iterations read nothing back and
    copy no Python values; only a shown progress bar reads the energy, every 10 iterations."""
    images = photo_crops[:2, :, :48, :48]
    invert(lite0, images, ["block1"], "mv2016", iterations_scale=0.02, progress=False)  # builds and folds the network pass
    waits = {}
    for scale in (0.1, 0.2):  # 35 and 70 iterations: the difference is what the iterations cost
        with HostSyncCounter() as syncs:
            result = invert(lite0, images, ["block1"], "mv2016", iterations_scale=scale, progress=progress)
        waits[result.history.shape[0]] = syncs.total
    (few, first), (many, second) = sorted(waits.items())
    per_iteration = (second - first) / (many - few)
    assert per_iteration <= (0.1 if progress else 0.0), waits


def test_the_attribution_is_the_absolute_gradient_summed_over_the_iterations():
    """E(x) = Σ (x − t)²: ∂E/∂x = 2 (x − t) at each iterate, read back from the snapshots."""
    target = torch.rand(2, 3, 6, 6, generator=torch.Generator().manual_seed(0))
    start = torch.full_like(target, 0.5)
    result = minimise(
        lambda x: (x - target).pow(2).sum((1, 2, 3)),
        start,
        stepper_factory("adam"),
        [Phase(3, 1.0), Phase(2, 0.5)],
        snapshot_every=1,
        attribution=True,
        progress=False,
    )
    expected = sum((2 * (result.snapshots[t] - target)).abs() for t in range(5))
    torch.testing.assert_close(result.attribution, expected, atol=1e-4, rtol=1e-4)
    assert minimise(lambda x: x.sum((1, 2, 3)), start, stepper_factory("adam"), [Phase(2, 0.1)], progress=False).attribution is None


def test_a_phase_of_no_iterations_leaves_the_images_and_a_lossy_variable_refuses_a_bound():
    from deeprestore.inversion.parameterisations import PhaseImage

    start = torch.rand(1, 3, 8, 8)
    result = minimise(lambda x: x.sum((1, 2, 3)), start, stepper_factory("adam"), [Phase(0, 0.1)], progress=False)
    assert torch.equal(result.images, start) and result.history.shape == (0, 1) and Phase(0, 0.1).scaled(3.0).iterations == 0
    with pytest.raises(ValueError, match="the phase parameterisation keeps only part of an image") as error:
        minimise(
            lambda x: x.sum((1, 2, 3)),
            start,
            stepper_factory("adam"),
            [Phase(1, 0.1)],
            priors=[(BoundedRange(), 1.0)],
            parameterisation=PhaseImage(),
        )
    assert "\n" not in str(error.value)


def test_the_nadam_stepper_is_torchs_nadam():
    target = torch.randn(2, 5, generator=torch.Generator().manual_seed(1))
    ours = torch.zeros(2, 5, requires_grad=True)
    theirs = torch.zeros(2, 5, requires_grad=True)
    stepper = stepper_factory("nadam", betas=(0.8, 0.99))(ours, 0.05, 1)
    reference = torch.optim.NAdam([theirs], lr=0.05, betas=(0.8, 0.99), foreach=False)
    for _ in range(6):
        stepper.step(lambda: (ours - target).pow(3).abs().sum(1))
        reference.zero_grad()
        (theirs - target).pow(3).abs().sum().backward()
        reference.step()
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-6)
