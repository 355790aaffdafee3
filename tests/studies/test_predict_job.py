"""Study jobs over ranks: each rank's share of the images, and more gloo ranks than images."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from deeprestore.studies.predict_job import ShareOfRanks
from tests.study_runs import ROOT, inversion_command, metrics_rows, study_env, write_photo_crops


def test_without_distributed_one_process_takes_every_item():
    assert list(ShareOfRanks(range(5))) == [0, 1, 2, 3, 4] and len(ShareOfRanks(range(5))) == 5
    assert list(ShareOfRanks([])) == []


def _study(images: list[Path], out: Path, *extra: str) -> list[dict[str, str]]:
    options = ["--images.files", *map(str, images), "--images.crop_size", "32", "--network.layers", "stem", "--optimisation.presets", "mv2016", "--optimisation.iterations_scale", "0.02",
               "--images.batch_size", "1", *extra]  # fmt: skip
    done = subprocess.run(inversion_command(out, *options), cwd=ROOT, env=study_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    return metrics_rows(out)


def test_three_gloo_ranks_on_two_images_give_the_rows_of_one_process(tmp_path):
    """Rank 2 has no image: it takes part in the gather and writes nothing (Lightning's own
    sampler refused it with an assertion, and NCCL ranks would have hung in the gather)."""
    images = write_photo_crops(tmp_path / "images")
    one = _study(images, tmp_path / "one")
    three = _study(images, tmp_path / "three", "--trainer.devices", "3", "--trainer.strategy", "ddp")
    assert [r["image"] for r in three] == [r["image"] for r in one] == ["astronaut", "coffee"]
    for a, b in zip(one, three):
        for column in ("mse", "psnr", "ssim", "feature_error"):
            assert float(b[column]) == pytest.approx(float(a[column]), rel=1e-5, abs=1e-7), (a["image"], column)
