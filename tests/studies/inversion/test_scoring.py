"""The verifiers' columns (networks that were not inverted, scoring the reconstructions) and the
perceptual metrics' columns (LPIPS, DISTS: with random backbones here, plumbing only)."""

from __future__ import annotations

import pytest
import torch

from deeprestore.cli_errors import run_command
from deeprestore.metrics import feature_error
from deeprestore.nets import load_network
from deeprestore.studies.cli import main
from deeprestore.studies.inversion.scoring import read_rows, score_verifiers, verifier_columns
from deeprestore.studies.inversion.study import verifier_layer
from tests.study_runs import QUIET, as_list, csv_rows, out_args


@pytest.fixture(scope="module")
def nets():
    return load_network("efficientnet_lite0"), load_network("efficientnet_lite1")


def test_verifier_columns_agree_with_a_direct_forward_pass(nets, photo_crops):
    lite0, lite1 = nets
    originals = photo_crops[:3, :, :64, :64]
    recon = (originals + 0.3 * torch.randn(originals.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    layer = verifier_layer(lite0, "block4", lite1)
    assert layer == "block5" and verifier_layer(lite0, "block3", lite1) == lite1.logits_layer
    got = score_verifiers({"lite1": (lite1, layer)}, originals, recon)
    assert list(got) == list(verifier_columns(["lite1"])) == ["lite1_top1_kept", "lite1_confidence", "lite1_feature_error"]
    with torch.no_grad():
        on_recon, on_originals = lite1(recon), lite1(originals)
        maps_recon, maps_originals = (lite1.features(x, [layer])[layer] for x in (recon, originals))
    truth = on_originals.argmax(1)
    assert got["lite1_top1_kept"] == (on_recon.argmax(1) == truth).tolist()
    expected = on_recon.softmax(1)[torch.arange(3), truth]
    assert got["lite1_confidence"] == pytest.approx(expected.tolist(), rel=1e-4, abs=1e-6)
    assert got["lite1_feature_error"] == pytest.approx(feature_error(maps_recon, maps_originals).tolist(), rel=1e-4)


def test_the_study_writes_and_reads_back_a_verifiers_columns(photos, tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "study"
    main(["inversion", "--images.files", as_list(str(photos / "astronaut.png")), "--images.crop_size", "48",
          "--network.layers", as_list("block1"), "--optimisation.presets", as_list("gd-plain"), "--optimisation.iterations_scale", "0.02",
          "--checkpoints", "", "--verifiers.names", as_list("efficientnet_lite1"), *QUIET, *out_args(out)])  # fmt: skip
    header, _ = csv_rows(out / "metrics.csv")
    assert header[-3:] == ["efficientnet_lite1_top1_kept", "efficientnet_lite1_confidence", "efficientnet_lite1_feature_error"]
    (row,) = read_rows(out / "metrics.csv")
    assert isinstance(row["efficientnet_lite1_top1_kept"], bool) and 0 <= row["efficientnet_lite1_confidence"] <= 1
    assert "efficientnet_lite1 top-1 kept" in (out / "report.md").read_text()


def test_the_study_writes_and_reads_back_perceptual_columns(photos, tmp_path):
    """Random backbones (--perceptual.weights random): plumbing only — the columns, their order
    after the verifiers', floats read back, the report's cells and its warning."""
    torch.set_num_threads(1)
    out = tmp_path / "study"
    main(["inversion", "--images.files", as_list(str(photos / "astronaut.png")), "--images.crop_size", "48",
          "--network.layers", as_list("block1"), "--optimisation.presets", as_list("gd-plain"), "--optimisation.iterations_scale", "0.02",
          "--checkpoints", "", "--verifiers.names", as_list("efficientnet_lite1"), "--perceptual.names", as_list("lpips-alex", "dists"),
          "--perceptual.weights", "random", *QUIET, *out_args(out)])  # fmt: skip
    header, _ = csv_rows(out / "metrics.csv")
    assert header[-3:] == ["efficientnet_lite1_feature_error", "lpips_alex", "dists"]
    (row,) = read_rows(out / "metrics.csv")
    assert isinstance(row["lpips_alex"], float) and row["lpips_alex"] > 0 and isinstance(row["dists"], float) and row["dists"] > 0
    report = (out / "report.md").read_text()
    assert "LPIPS (AlexNet)" in report and "DISTS" in report and "plumbing only" in report


def test_a_missing_perceptual_backbone_is_one_line_and_status_2(photos, tmp_path, monkeypatch, capsys):
    """An empty torch hub cache: evaluate.py names the file on one line of stderr, exits 2, writes nothing."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    out = tmp_path / "never"
    monkeypatch.setattr("sys.argv", ["evaluate.py", "inversion", "--images.files", as_list(str(photos / "astronaut.png")),
                                     "--checkpoints", "", "--perceptual.names", as_list("dists"), *QUIET, *out_args(out)])  # fmt: skip
    assert run_command(main, "evaluate.py") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and not out.exists()
    assert err.startswith("evaluate.py: error: dists needs torchvision's VGG16 ImageNet weights at ")
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / "vgg16-397923af.pth") in err
    monkeypatch.setattr("sys.argv", ["evaluate.py", "inversion", "--perceptual.names", as_list("lpips-squeeze"), *QUIET, *out_args(out)])
    assert run_command(main, "evaluate.py") == 2
    assert "--perceptual.names: unknown metric 'lpips-squeeze'; choose from lpips-alex, lpips-vgg, dists" in capsys.readouterr().err
