"""The calibration study: tuned on one split, reported on the other; plumbing on AlexNet's layers."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import skimage.data
import yaml
from PIL import Image

from deeprestore.studies.cli import main
from tests.study_runs import QUIET


def test_calibration_tunes_on_one_split_and_reports_on_the_other(photos, tmp_path):
    """Two tiny splits, a 2 × 2 grid: with ``--ssim_fraction 0`` the chosen setting has the lowest
    mean tuning feature error (cheapest within the tolerance), and only report-split images are in
    metrics.csv."""
    from deeprestore.studies.calibration.study import choose
    from deeprestore.studies.inversion.methods import TunedPresetMethod

    files = sorted(str(p) for p in photos.glob("*.png"))
    calibration = main(
        [
            "calibrate",
            "--tuning_files",
            *files[:2],
            "--images.files",
            files[2],
            "--images.crop_size",
            "32",
            "--network.layers",
            "stem",
            "--data_weights",
            "30",
            "3000",
            "--prior_finals",
            "1",
            "0",
            "--iterations_scales",
            "0.02",
            "--ssim_fraction",
            "0",
            "--report_root",
            str(tmp_path),
            "--experiment",
            "cal",
            *QUIET,
        ]
    )
    folder = tmp_path / "cal"
    with (folder / "tuning.csv").open(newline="") as f:
        tuning = list(csv.DictReader(f))
    with (folder / "metrics.csv").open(newline="") as f:
        report = list(csv.DictReader(f))
    assert len(tuning) == 4 * 2 and {r["image"] for r in tuning} == {Path(p).stem for p in files[:2]}
    errors = {}
    for r in tuning:
        errors.setdefault(r["method"], []).append(float(r["feature_error"]))
    best = min(errors, key=lambda m: sum(errors[m]))
    chosen = calibration["stem"]
    assert TunedPresetMethod("stem", chosen["data_weight"], chosen["prior_final"], chosen["iterations_scale"]).name == best
    assert chosen["tuning"]["feature_error"] == pytest.approx(sum(errors[best]) / 2, abs=1e-4)
    assert {r["image"] for r in report} == {Path(files[2]).stem} and {r["method"] for r in report} == {best, "mv2016", "gd-plain"}
    assert yaml.safe_load((folder / "calibration.yaml").read_text())["layers"]["stem"] == chosen
    assert "## Report split, stem" in (folder / "report.md").read_text()
    cheap, dear = TunedPresetMethod("stem", 1.0, 1.0, 1.0), TunedPresetMethod("stem", 1.0, 1.0, 4.0)
    rows = lambda e, s=0.5: [{"feature_error": e, "ssim": s}]  # noqa: E731
    assert choose({cheap: rows(0.105), dear: rows(0.100)}, 0.01) == cheap and choose({cheap: rows(0.2), dear: rows(0.1)}, 0.01) == dear
    faded = TunedPresetMethod("stem", 1.0, 0.0, 1.0)  # the lowest feature error, but half the SSIM: not natural enough
    assert (
        choose({cheap: rows(0.2, 0.8), faded: rows(0.1, 0.4)}, 0.01) == cheap
        and choose({cheap: rows(0.2, 0.8), faded: rows(0.1, 0.4)}, 0.01, 0.0) == faded
    )
    with pytest.raises(ValueError, match="tuning and report images must differ"):
        main(
            [
                "calibrate",
                "--tuning_files",
                files[0],
                "--images.files",
                files[0],
                "--images.crop_size",
                "32",
                "--report_root",
                str(tmp_path),
                "--experiment",
                "bad",
            ]
        )


def test_calibration_plumbing_on_alexnet_with_random_weights(tmp_path):
    """The cluster procedure's path (AlexNet; random weights, plumbing only: no numbers are meaningful)."""
    for split, names in (("t", ("astronaut", "rocket")), ("r", ("coffee",))):
        (tmp_path / split).mkdir()
        for name in names:
            Image.fromarray(getattr(skimage.data, name)()[:64, :64]).save(tmp_path / split / f"{name}.png")
    calibration = main(
        [
            "calibrate",
            "--network.name",
            "alexnet",
            "--network.weights",
            "random",
            "--tuning_files",
            str(tmp_path / "t"),
            "--images.files",
            str(tmp_path / "r"),
            "--images.crop_size",
            "64",
            "--network.layers",
            "relu1",
            "--data_weights",
            "300",
            "--prior_finals",
            "1",
            "0",
            "--iterations_scales",
            "0.01",
            "--report_root",
            str(tmp_path),
            "--experiment",
            "alex",
            *QUIET,
        ]
    )
    assert set(calibration) == {"relu1"} and calibration["relu1"]["data_weight"] == 300.0
    assert yaml.safe_load((tmp_path / "alex" / "calibration.yaml").read_text())["net"] == "alexnet"
