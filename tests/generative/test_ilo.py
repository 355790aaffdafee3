"""ILO and CSGM (Daras et al. 2021; Bora et al. 2017), the trained generator and the inverse-problems study."""

import csv
import math

import pytest
import torch

from datamodules.evaluation_images import StackedImages
from deeprestore.generative import conv_generator
from deeprestore.generative.ilo import csgm, ilo
from deeprestore.generative.lr_schedule import ramped_lr
from deeprestore.generative.operators import make_operator
from deeprestore.studies.inverse_problems.experiment import INVERSE_PROBLEM_COLUMNS, run_inverse_problems_study
from deeprestore.studies.study_folder import StudyFolder, StudyOptions
from deeprestore.studies.trainer_options import TrainerOptions


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    g = conv_generator(latent_dim=8, width=16, image_size=16).double().eval()
    for p in g.parameters():
        p.requires_grad_(False)
    return g


def measured_image(generator, operator_name, seed=1):
    z = torch.randn(2, 8, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x = generator(z)
    op = make_operator(operator_name, x.shape[1:], seed=seed).double()
    return x, op, op(x)


def test_ramped_lr_warms_up_peaks_and_decays():
    lrs = [ramped_lr(t, 100, 0.1) for t in range(100)]
    assert lrs[0] < 0.1 * 0.5
    assert max(lrs) == pytest.approx(0.1)
    assert lrs[50] == pytest.approx(0.1)
    assert lrs[-1] < 0.01
    assert all(b <= a + 1e-15 for a, b in zip(lrs[75:], lrs[76:]))


def test_ilo_with_zero_radii_is_csgm(generator):
    _, op, y = measured_image(generator, "inpaint-pixels")
    a = ilo(generator, op, y, layers=(0, 1, 2), steps=(30, 20, 20), radii=(0.0, 0.0), seed=3)
    b = csgm(generator, op, y, steps=30, seed=3)
    assert torch.equal(a.images, b.images)
    assert torch.equal(a.measurement_loss, b.measurement_loss)


def test_ilo_never_raises_the_measurement_loss_of_its_first_layer(generator):
    _, op, y = measured_image(generator, "cs-gaussian")
    first = csgm(generator, op, y, steps=40, seed=0)
    deeper = ilo(generator, op, y, layers=(0, 1, 2), steps=(40, 30, 30), radii=(0.3, 0.3), seed=0)
    assert torch.all(deeper.measurement_loss <= first.measurement_loss + 1e-12)
    assert deeper.measurement_loss.mean() < 0.5 * first.measurement_loss.mean()  # the deeper layers have freedom to use
    assert deeper.layer_steps == [(0, 40), (1, 30), (2, 30)]


def test_ilo_stays_in_the_l1_ball_around_the_previous_solution(generator):
    _, op, y = measured_image(generator, "inpaint-box")
    first = csgm(generator, op, y, steps=25, seed=0)
    center = generator.forward_to(1, first.variable)
    out = ilo(generator, op, y, layers=(0, 1), steps=(25, 40), radii=(0.05,), seed=0)
    deviation = (out.variable - center).flatten(1).abs().sum(1)
    bound = 0.05 * center.flatten(1).abs().sum(1)
    assert torch.all(deviation <= bound * (1 + 1e-9))
    assert torch.all(deviation > 0.5 * bound)  # the constraint is active: the layer moved


def test_csgm_recovers_a_realisable_image(generator):
    x, op, y = measured_image(generator, "denoise")
    out = csgm(generator, op, y, steps=300, lr=0.05, restarts=4, seed=0)
    assert float(((out.images - x) ** 2).mean()) < 1e-4


def test_restarts_keep_the_best_start(generator):
    _, op, y = measured_image(generator, "cs-gaussian", seed=4)
    single = [csgm(generator, op, y, steps=10, seed=s).measurement_loss for s in range(3)]
    batched = csgm(generator, op, y, steps=10, restarts=3, seed=0).measurement_loss
    assert torch.all(batched <= torch.stack(single).max(0).values + 1e-12)


def test_bad_schedules_raise(generator):
    _, op, y = measured_image(generator, "denoise")
    with pytest.raises(ValueError, match="start at 0"):
        ilo(generator, op, y, layers=(1, 2), steps=(1, 1), radii=(0.1,))
    with pytest.raises(ValueError, match="one step count"):
        ilo(generator, op, y, layers=(0, 1), steps=(1,), radii=(0.1,))
    with pytest.raises(ValueError, match="before the image"):
        ilo(generator, op, y, layers=(0, 3), steps=(1, 1), radii=(0.1,))


def test_inverse_problems_study_writes_csv_and_figures(generator, tmp_path):
    images = generator(torch.randn(3, 8, generator=torch.Generator().manual_seed(9), dtype=torch.float64)).float()
    g = generator.float()
    operators = {name: make_operator(name, images.shape[1:], seed=0, noise_std=0.05) for name in ("inpaint-pixels", "super-resolution")}
    methods = {
        "csgm": lambda gen, op, y, seed: csgm(gen, op, y, steps=20, seed=seed),
        "ilo": lambda gen, op, y, seed: ilo(gen, op, y, layers=(0, 1), steps=(10, 10), radii=(0.2,), seed=seed),
    }
    folder = StudyFolder("inverse-problems", StudyOptions(experiment=tmp_path.name, report_root=str(tmp_path.parent)), {}).open()
    data = StackedImages(images, ["a", "b", "c"])
    rows = run_inverse_problems_study(g, data, operators, methods, folder, TrainerOptions(accelerator="cpu").make(), progress=False)
    by_batch = {}
    for batch_size in (1, 3):  # per-image noise and starts: an image's row does not depend on its batch
        again = run_inverse_problems_study(
            g,
            data,
            operators,
            methods,
            folder,
            TrainerOptions(accelerator="cpu").make(),
            batch_size=batch_size,
            figure_images=0,
            progress=False,
        )
        by_batch[batch_size] = {(r["method"], r["operator"], r["image"]): r["mse"] for r in again}
    assert by_batch[1] == pytest.approx(by_batch[3], rel=1e-4) and by_batch[3] == pytest.approx(
        {(r["method"], r["operator"], r["image"]): r["mse"] for r in rows}
    )
    generator.double()
    with open(tmp_path / "inverse_problems.csv") as f:
        read = list(csv.DictReader(f))
    assert tuple(read[0]) == INVERSE_PROBLEM_COLUMNS
    assert len(read) == len(rows) == 2 * 2 * 3
    assert all(math.isfinite(float(r["psnr"])) and 0 < float(r["ssim"]) <= 1 for r in read)
    assert {r["measurements"] for r in read if r["operator"] == "super-resolution"} == {str(3 * 4 * 4)}
    assert (tmp_path / "plots" / "inpaint-pixels.png").stat().st_size > 0
    assert (tmp_path / "plots" / "mse_by_operator.png").stat().st_size > 0


def test_a_perceptual_term_from_a_zoo_network_enters_the_objective(generator):
    from deeprestore.generative.ilo import feature_loss
    from deeprestore.nets import load_network

    net = load_network("efficientnet_lite0").double().eval()
    x, op, y = measured_image(generator, "inpaint-pixels")
    perceptual = feature_loss(net, "stem")
    assert float(perceptual(op(x), y).abs().max()) < 1e-10  # zero at the truth
    plain = ilo(generator, op, y, layers=(0, 1), steps=(10, 10), radii=(0.2,), seed=0)
    with_term = ilo(generator, op, y, layers=(0, 1), steps=(10, 10), radii=(0.2,), seed=0, perceptual=perceptual, perceptual_weight=1.0)
    assert torch.isfinite(with_term.images).all() and not torch.equal(plain.images, with_term.images)


def test_an_inverting_network_is_a_generator_with_layers_for_ilo(tmp_path):
    """The chain of a modular inverter as a StagedGenerator: the photos' own latents give back the
    inverter's reconstructions, and ILO moves from the features to the maps below them."""
    from datamodules.evaluation_images import sample_photo_crops
    from deeprestore.checkpoint_files import load_module_checkpoint
    from deeprestore.inverters import InvertingNetwork
    from deeprestore.studies.inverter_generator import inverter_generator, is_inverter_checkpoint
    from tests.tiny_checkpoints import inverter

    path = inverter(tmp_path / "inv" / "last.ckpt", "block2")
    photos = sample_photo_crops(32, 64, "five")[0][:3]
    g, latents = inverter_generator(path, photos)
    model = load_module_checkpoint(InvertingNetwork, path, "test").eval()
    assert is_inverter_checkpoint(path) and g.num_stages == 1 + 3 + 1  # standardise, stem/block1/block2 modules, to [0, 1]
    with torch.no_grad():
        expected = model(model.net.features(photos, "block2")["block2"], (32, 32))
        torch.testing.assert_close(g(latents).clamp(0, 1), expected, atol=1e-5, rtol=0)
    op = make_operator("inpaint-pixels", photos.shape[1:], seed=0)
    y = op.measure(photos, seeds=[1, 2, 3])
    result = ilo(g, op, y, layers=(0, 1, 2), steps=(5, 5, 5), radii=(0.3, 0.3), seed=[1, 2, 3])
    assert result.layer == 2 and result.images.shape == photos.shape and torch.isfinite(result.measurement_loss).all()


def test_measurements_of_another_shape_are_refused():
    """A grey N×1×32×32 y for an operator on 3×32×32 images once broadcast silently."""
    from deeprestore.generative.conv_generator import conv_generator
    from deeprestore.generative.ilo import csgm, ilo
    from deeprestore.generative.operators import make_operator

    generator = conv_generator(latent_dim=8, width=8, image_size=32)
    op = make_operator("denoise", (3, 32, 32))
    with pytest.raises(ValueError, match=r"expects measurements of shape N×3×32×32, got \(2, 1, 32, 32\)"):
        csgm(generator, op, torch.rand(2, 1, 32, 32), steps=1)
    with pytest.raises(ValueError, match="expects measurements of shape"):
        ilo(generator, make_operator("cs-gaussian", (3, 32, 32), num_measurements=10), torch.rand(2, 11), steps=(1, 1, 1, 1))
