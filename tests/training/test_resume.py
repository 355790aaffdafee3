"""Checkpoints you can resume from: ``last.ckpt`` after every epoch, and a run killed with SIGKILL
in the middle of an epoch resumes with ``python train.py --ckpt_path <run>/last.ckpt`` alone
(the run's own config.yaml is read) and ends with the metrics of an uninterrupted run."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from tests.study_runs import tiny_photo_data

ROOT = Path(__file__).resolve().parents[2]
# 24 crops of 64², batch 8: 3 steps per epoch, validation every 2nd epoch, 4 epochs
SHORT = [
    *tiny_photo_data(samples_per_epoch=24),
    "--model.init_args.layer",
    "block1",
    "--model.init_args.grid_images",
    "0",
    "--trainer.max_epochs",
    "4",
    "--trainer.check_val_every_n_epoch",
    "2",
    "--trainer.log_every_n_steps",
    "1",
    "--trainer.enable_progress_bar",
    "false",
    "--wandb",
    "disabled",
]


def train(args: list[str], check: bool = True) -> subprocess.CompletedProcess:
    env = os.environ | {"WANDB_MODE": "offline", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    done = subprocess.run([sys.executable, "train.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


def held_out_metrics(run: Path) -> dict[str, float]:
    """The test row of the run's CSV log (the last version: a resumed run logs a new one)."""
    version = sorted((run / "csv").glob("version_*"), key=lambda p: int(p.name.split("_")[1]))[-1]
    rows = list(csv.DictReader((version / "metrics.csv").open()))
    (row,) = [r for r in rows if r.get("test/ssim")]
    return {k: float(row[k]) for k in ("test/ssim", "test/psnr", "test/mse", "test/feature_error")}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("uninterrupted")
    train(SHORT + ["--checkpoint_root", str(root), "--experiment", "run"])
    return root / "run"


def test_last_ckpt_is_the_final_state_and_best_is_kept(uninterrupted):
    last = torch.load(uninterrupted / "last.ckpt", map_location="cpu", weights_only=False)
    assert (last["epoch"], last["global_step"]) == (3, 12)  # the end of the 4th epoch, not the last validation
    assert [p.name for p in uninterrupted.glob("best-*.ckpt")] == ["best-epoch003-step12.ckpt"]  # val/ssim rose
    assert not list(uninterrupted.glob("last-v*.ckpt"))


@pytest.mark.slow
@pytest.mark.parametrize("epoch", [1, 3])
def test_kill_9_mid_epoch_then_resume_reaches_the_uninterrupted_metrics(epoch, uninterrupted, tmp_path):
    marker = tmp_path / "killed"
    kill = tmp_path / "kill.yaml"
    kill.write_text(
        yaml.safe_dump(
            {
                "trainer": {
                    "callbacks": [  # a YAML list replaces the default config's: keep its ChannelsLast
                        {"class_path": "deeprestore.training.ChannelsLast"},
                        {"class_path": "tests.kill_switch.KillAt", "init_args": {"epoch": epoch, "batch": 1, "marker": str(marker)}},
                    ]
                }
            }
        )
    )
    first = train(
        ["--config", "configs/default.yaml", "--config", str(kill), *SHORT, "--checkpoint_root", str(tmp_path), "--experiment", "run"],
        check=False,
    )
    assert first.returncode == -signal.SIGKILL and marker.is_file(), first.stderr[-2000:]
    run = tmp_path / "run"
    state = torch.load(run / "last.ckpt", map_location="cpu", weights_only=False)
    assert state["epoch"] == epoch - 1  # the end of the epoch before the kill
    resumed = train(["--ckpt_path", str(run / "last.ckpt")])  # the README's resume command: one argument
    assert "held-out SSIM:" in resumed.stdout
    assert held_out_metrics(run) == pytest.approx(held_out_metrics(uninterrupted), rel=1e-6, abs=1e-7)
    final = torch.load(run / "last.ckpt", map_location="cpu", weights_only=False)
    assert (final["epoch"], final["global_step"]) == (3, 12)


def test_resume_without_a_checkpoint_is_one_line(tmp_path):
    """A run killed before its first epoch ended left no last.ckpt: the resume command says so."""
    done = train(["--ckpt_path", str(tmp_path / "run" / "last.ckpt")], check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"train.py: error: --ckpt_path {tmp_path / 'run' / 'last.ckpt'}: no such checkpoint file "
        "(a run writes last.ckpt at the end of its first epoch)"
    )
