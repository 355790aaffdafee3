"""The denoising study through ``evaluate.py denoise`` on a folder of photos."""

from __future__ import annotations

import yaml

from deeprestore.studies.cli import main
from tests.study_runs import as_list, csv_rows, out_args


def test_denoise_study_through_evaluate_on_a_folder(photos, tmp_path):
    rows = main(
        [
            "denoise",
            "--images.files",
            as_list(str(photos)),
            "--images.crop_size",
            "48",
            "--sigmas",
            "[25]",
            *out_args(tmp_path / "den"),
            "--progress",
            "false",
            "--wandb",
            "disabled",
        ]
    )
    header, saved = csv_rows(tmp_path / "den" / "denoise.csv")
    assert header[:5] == ["method", "sigma", "image", "psnr", "ssim"]
    assert {r["method"] for r in saved} == {"foe-roth", "tv-chambolle", "nl-means"}
    assert {r["image"] for r in saved} == {"astronaut", "chelsea", "coffee"}
    assert all(15 < float(r["psnr"]) < 60 and 0 < float(r["ssim"]) <= 1 for r in saved) and len(rows) == len(saved) == 9
    report = (tmp_path / "den" / "report.md").read_text()
    assert "| foe-roth |" in report and "σ = 25" in report
    assert yaml.safe_load((tmp_path / "den" / "config.yaml").read_text())["sigmas"] == [25.0]
