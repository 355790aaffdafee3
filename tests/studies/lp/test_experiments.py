"""Lei et al.'s experiments: the noise study's rows, a trained generator, trials in parallel processes."""

from __future__ import annotations

import csv

import torch
from torch import nn

from deeprestore.generative.staged_generator import GeneratorStage, StagedGenerator
from deeprestore.studies.lp.experiments import LP_COLUMNS, noise_study, trained_generator_study
from deeprestore.studies.lp.report import lp_report
from deeprestore.studies.study_folder import StudyFolder, StudyOptions


def _conv_generator() -> StagedGenerator:
    torch.manual_seed(0)
    return StagedGenerator(
        [
            GeneratorStage(nn.Sequential(nn.Linear(8, 64), nn.Unflatten(1, (16, 2, 2))), "relu"),
            GeneratorStage(nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(16, 16, 3, padding=1)), "relu"),
            GeneratorStage(nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear"), nn.Conv2d(16, 4, 3, padding=1)), "sigmoid"),
        ],
        (8,),
    )


def test_trained_generator_study_conv_sigmoid_and_non_expanding():
    rows = trained_generator_study(_conv_generator(), trials=3, methods=("lp",), progress=False)
    assert len(rows) == 3 and all(r["success"] for r in rows) and rows[0]["widths"] == "8-16x2x2-16x4x4-4x8x8"
    G = _conv_generator()
    G.stages[2].linear[1] = nn.Conv2d(16, 1, 3, padding=1)  # 256 → 64: not invertible
    rows = trained_generator_study(G, trials=2, methods=("lp", "lp-linf"), progress=False)
    assert len(rows) == 4 and not any(r["success"] for r in rows)


def test_noise_study_rows_and_csv_columns(tmp_path):
    rows = noise_study(
        widths=(8, 24, 72), noise_levels=(0, 1e-2), trials=1, methods=("lp", "lp-linf", "gd"), gd_options={"steps": 200}, progress=False
    )
    assert len(rows) == 6 and all(tuple(r) == LP_COLUMNS for r in rows)
    lp0 = next(r for r in rows if r["method"] == "lp" and r["noise"] == 0)
    assert lp0["success"] and lp0["latent_rel_error"] < 1e-6 and lp0["widths"] == "8-24-72"
    folder = StudyFolder("lp", StudyOptions(experiment="lp", report_root=str(tmp_path)), {}).open()
    path = folder.write_table("lp", LP_COLUMNS, rows)
    with open(path, newline="") as f:
        read = list(csv.DictReader(f))
    assert tuple(read[0]) == LP_COLUMNS == ("method", "widths", "noise", "trial", "latent_rel_error", "seconds", "success")
    assert len(read) == 6 and "| lp-linf | 8-24-72 | 0.01 | 1 |" in lp_report(read)


def test_trials_in_two_processes_give_the_rows_of_one():
    from deeprestore.studies.lp.experiments import noise_study

    def without_time(rows):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    one = noise_study((5, 20, 60), (0.0, 0.01), trials=3, methods=("lp", "lp-linf"), seed=2, progress=False)
    two = noise_study((5, 20, 60), (0.0, 0.01), trials=3, methods=("lp", "lp-linf"), seed=2, progress=False, processes=2)
    assert len(one) == 3 * 2 * 2 and without_time(one) == without_time(two)
