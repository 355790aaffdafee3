"""The pretrained DCGAN face generator of gan-face-generate, batch norm folded into a StagedGenerator."""

from __future__ import annotations

import pytest
import torch

from deeprestore.generative.dcgan_faces import dcgan_generator, face_generator, face_weights_path, fold_batchnorm
from tests.study_runs import QUIET


@pytest.fixture(scope="module")
def faces():
    return face_generator()


def test_folding_batch_norm_changes_nothing(faces):
    """The folded generator equals the unfolded one with the same weights (max |difference| < 1e-5)."""
    state = torch.load(face_weights_path(), map_location="cpu", weights_only=True)["netG_state_dict"]
    unfolded = dcgan_generator()
    unfolded.load_state_dict({k.removeprefix("main."): v for k, v in state.items()})
    z = torch.randn(8, 100, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference = (unfolded.eval()(z.view(8, 100, 1, 1)) + 1) / 2
        assert (faces(z) - reference).abs().max() < 1e-5
    assert faces.layer_shapes() == [(100,), (512, 4, 4), (256, 8, 8), (128, 16, 16), (64, 32, 32), (3, 64, 64)]
    assert all(not p.requires_grad for p in faces.parameters())


def test_samples_match_the_packages_own_generator(faces):
    models = pytest.importorskip("gan_face_generate.models", reason="the faces extra is not installed")
    own = models.Generator(0, 3, 100, 64)
    own.load_state_dict(torch.load(face_weights_path(), map_location="cpu", weights_only=True)["netG_state_dict"])
    z = torch.randn(4, 100, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(faces(z), (own.eval()(z.view(4, 100, 1, 1)) + 1) / 2, atol=1e-5, rtol=0)


def test_a_folded_batch_norm_is_the_composition():
    torch.manual_seed(0)
    conv, bn = torch.nn.ConvTranspose2d(4, 6, 3, 2, 1, bias=True), torch.nn.BatchNorm2d(6).eval()
    bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2), bn.weight.data.uniform_(0.5, 2), bn.bias.data.uniform_(-1, 1)
    x = torch.randn(2, 4, 5, 5)
    with torch.no_grad():
        torch.testing.assert_close(fold_batchnorm(conv, bn)(x), bn(conv(x)), atol=1e-5, rtol=0)


def test_missing_weights_say_how_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="gan-face-generate"):
        face_generator(tmp_path / "weights.tar")
    (tmp_path / "other.tar").write_bytes(b"")
    torch.save({"something": 1}, tmp_path / "other.tar")
    with pytest.raises(ValueError, match="no 'netG_state_dict'"):
        face_generator(tmp_path / "other.tar")


def test_ilo_with_every_radius_zero_is_csgm_on_the_face_generator(faces):
    from deeprestore.generative.ilo import csgm, ilo
    from deeprestore.generative.operators import make_operator

    x = faces(torch.randn(2, 100, generator=torch.Generator().manual_seed(3)))
    op = make_operator("inpaint-pixels", x.shape[1:], seed=0)
    y = op.measure(x, seeds=[1, 2])
    a = ilo(faces, op, y, layers=(0, 1, 2, 3), steps=(6, 3, 2, 2), radii=(0.0, 0.0, 0.0), seed=[5, 6]).images
    b = csgm(faces, op, y, steps=6, seed=[5, 6]).images
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_every_operator_runs_through_the_study_in_and_out_of_range(tmp_path):
    from deeprestore.studies.cli import main as evaluate

    rows = evaluate(
        [
            "inverse-problems",
            "--generator",
            "dcgan-faces",
            "--in_range",
            "1",
            "--measurements",
            "50",
            "200",
            "--ilo_steps",
            "2",
            "2",
            "1",
            "1",
            "--images.batch_size",
            "8",
            "--report_root",
            str(tmp_path),
            "--experiment",
            "faces",
            *QUIET,
            "--trainer.accelerator",
            "cpu",
        ]
    )
    ops = {(r["operator"], r["measurements"]) for r in rows}
    assert {o for o, _ in ops} == {"inpaint-pixels", "inpaint-box", "denoise", "super-resolution", "cs-gaussian", "cs-circulant"}
    assert {m for o, m in ops if o == "cs-gaussian"} == {50, 200}
    assert {r["image_set"] for r in rows} == {"in-range", "out-of-range"} and len({r["image"] for r in rows}) == 1 + 6
    assert all(0 <= r["ssim"] <= 1 for r in rows) and (tmp_path / "faces" / "plots" / "mse_by_measurements.png").is_file()
