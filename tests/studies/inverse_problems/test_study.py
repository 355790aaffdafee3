"""The inverse-problems study (CSGM and ILO) through the Trainer: DDP shards and bf16-mixed."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys

import pytest

from deeprestore.studies.cli import main
from tests.study_runs import QUIET, ROOT


def test_the_inverse_problems_study_shards_over_ddp_processes(photos, checkpoints, tmp_path):
    """CSGM and ILO on 3 images over 2 gloo processes: the rows of one process, each image once."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    read = {}
    for name, extra in (("one", []), ("two", ["--trainer.devices", "2", "--trainer.strategy", "ddp"])):
        args = [
            sys.executable,
            "evaluate.py",
            "inverse-problems",
            "--generator",
            checkpoints["generator"],
            "--images.files",
            str(photos),
            "--operators",
            "inpaint-pixels",
            "denoise",
            "--noise_std",
            "0.05",
            "--ilo_steps",
            "4",
            "4",
            "2",
            "2",
            "--images.batch_size",
            "2",
            *QUIET,
            "--report_root",
            str(tmp_path),
            "--experiment",
            name,
            "--trainer.accelerator",
            "cpu",
            *extra,
        ]
        done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        with (tmp_path / name / "inverse_problems.csv").open(newline="") as f:
            read[name] = {(r["method"], r["operator"], r["image"]): r for r in csv.DictReader(f)}
    assert len(read["two"]) == 2 * 2 * 3 and read["one"].keys() == read["two"].keys()
    for key, row in read["two"].items():
        assert float(row["mse"]) == pytest.approx(float(read["one"][key]["mse"]), rel=1e-4), key


def test_the_inverse_problems_study_runs_every_operator_under_bf16_mixed(checkpoints, tmp_path):
    """The generator runs in bf16; the operators (the circulant one's FFT included), ILO's
    variables and the scores in float32."""
    from deeprestore.generative.operators import OPERATOR_NAMES

    rows = main(
        [
            "inverse-problems",
            "--generator",
            checkpoints["generator"],
            "--operators",
            *OPERATOR_NAMES,
            "--ilo_steps",
            "2",
            "2",
            "1",
            "1",
            "--in_range",
            "2",
            "--images.files",
            "[]",
            "--radius_scales",
            "0.5",
            "1",
            "--validation_samples",
            "2",
            "--report_root",
            str(tmp_path),
            "--experiment",
            "bf16",
            *QUIET,
            "--trainer.accelerator",
            "cpu",
            "--trainer.precision",
            "bf16-mixed",
        ]
    )
    assert {r["operator"] for r in rows} == set(OPERATOR_NAMES) and len(rows) == len(OPERATOR_NAMES) * 2 * 2
    assert all(math.isfinite(r["mse"]) and math.isfinite(r["measurement_mse"]) for r in rows)
