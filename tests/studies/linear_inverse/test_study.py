"""The linear-inverse study through ``evaluate.py linear-inverse`` on a tiny setting, and its resume."""

from __future__ import annotations

import json

from deeprestore.studies.cli import main
from deeprestore.studies.linear_inverse.study import LINEAR_INVERSE_COLUMNS
from deeprestore.studies.study_folder import file_stem
from tests.study_runs import QUIET, csv_rows, out_args

RANDOM = {"kernel": 3, "stride": 2, "channels": 6, "size": 8}
STEM = {"network": "efficientnet_lite0", "modules": ["stages.stem.0", "stages.stem.1"], "nonlinearity": "relu6", "size": 8}
TINY = ["--train_patches", "300", "--test_patches", "40", "--relative_noise", "[0.01]", "--radii", "[1]", "--border", "1", *QUIET]


def test_the_study_measures_every_inverse_of_every_case_and_resumes(tmp_path):
    out = tmp_path / "li"
    rows = main(["linear-inverse", "--cases", json.dumps([RANDOM]), *TINY, *out_args(out)])
    header, saved = csv_rows(out / "linear_inverse.csv")
    assert tuple(header) == LINEAR_INVERSE_COLUMNS and len(saved) == len(rows) == 6
    by_inverse = {r["inverse"]: r for r in saved}
    assert set(by_inverse) == {"mmse", "mmse→conv", "eq2-stationary", "pinv", "conv r=1", "conv r=1 interior"}
    assert float(by_inverse["conv r=1"]["distance"]) < 1e-10 and float(by_inverse["mmse"]["distance"]) > 0.05
    assert all(0 <= float(r["error"]) < 2 for r in saved) and (out / "plots" / f"{file_stem('random k3 s2 3→6')}.png").is_file()
    assert "| random k3 s2 3→6 | 0.01 | mmse |" in (out / "report.md").read_text()

    missing = str(tmp_path / "no_stem_module.ckpt")
    again = main(["linear-inverse", "--cases", json.dumps([RANDOM, {**STEM, "inverter": {"checkpoint": missing}}]), *TINY, *out_args(out)])
    assert [r for r in again if r["case"] == "random k3 s2 3→6"] == rows  # kept, not measured again
    stem = {r["inverse"]: r for r in again if r["case"] == "efficientnet_lite0 stages.stem.0 relu6"}
    assert set(stem) == {"mmse", "mmse→conv", "eq2", "eq2-stationary", "pinv", "conv r=1", "conv r=1 interior"}
    assert stem["mmse"]["channels_out"] == 32 and stem["mmse"]["stride"] == 2
    assert stem["mmse"]["error"] < stem["eq2"]["error"]  # the inverse that knows of ReLU6 does better
    assert f"no trained module ({missing} not found" in (out / "report.md").read_text()
