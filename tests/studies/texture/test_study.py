"""The texture study through ``evaluate.py texture`` on tiny settings: a row per photo, measure and
preset with the verifiers' columns, textures nearer the photos' statistics than noise, resume, and
bad measures in one line."""

from __future__ import annotations

import json

import pytest
import torch

from deeprestore.inversion import StatisticsLoss
from deeprestore.nets import load_network
from deeprestore.studies.cli import main
from tests.study_runs import QUIET, csv_rows, out_args

TINY = ["--images.crop_size", "32", "--optimisation.iterations_scale", "0.3", "--verifiers.names", "[efficientnet_lite1]", *QUIET]
MEASURES = [{"statistic": "gram", "layers": ["stem", "block1"]}, {"statistic": "covariance", "layers": ["block2"], "label": "cov"}]


def test_the_study_synthesises_each_measure_and_resumes(tmp_path):
    out = tmp_path / "t"
    args = ["texture", "--measures", json.dumps(MEASURES), *TINY, *out_args(out)]
    rows = main(args)
    header, saved = csv_rows(out / "texture.csv")
    assert (
        header[:6] == ["image", "measure", "preset", "statistics_error", "distance", "seconds"]
        and "efficientnet_lite1_gram_error" in header
    )
    assert [(r["image"], r["measure"]) for r in rows] == [
        ("chelsea", "gram stem+block1"),
        ("coffee", "gram stem+block1"),
        ("chelsea", "cov"),
        ("coffee", "cov"),
    ]
    assert len(saved) == 4 and all(0 < r["statistics_error"] < 0.5 and r["distance"] > 0.02 for r in rows)
    textures = torch.load(out / "images" / next(p.name for p in (out / "images").iterdir() if p.name.startswith("gram")), weights_only=True)
    covariance = torch.load(
        out / "images" / next(p.name for p in (out / "images").iterdir() if p.name.startswith("cov")), weights_only=True
    )
    assert textures.shape == covariance.shape == (2, 3, 32, 32) and (out / "plots" / "textures.png").is_file()
    net = load_network("efficientnet_lite0")
    noise = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    from datamodules.evaluation_images import sample_photo_crops

    measure = StatisticsLoss.from_images(net, {"stem": 1.0, "block1": 1.0}, sample_photo_crops(32, 64)[0])
    with torch.no_grad():
        assert float(torch.stack(list(measure.relative_errors(noise).values())).mean()) > 2 * max(r["statistics_error"] for r in rows[:2])
    assert main(args) == rows  # resumed


@pytest.mark.parametrize(
    ("measures", "message"),
    [([{"layers": []}], "each with at least one layer"), ([{"layers": ["stem"]}, {"layers": ["stem"]}], "two measures have the same name")],
)
def test_bad_measures_are_one_clear_error(measures, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        main(["texture", "--measures", json.dumps(measures), *TINY, *out_args(tmp_path / "bad")])
