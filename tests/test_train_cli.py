"""`train.py` end to end through the real LightningCLI, Trainer, W&B (offline) and DDP (gloo)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deeprestore.training import main
from deeprestore.training.cli import build_cli
from tests.wandb_records import logged_config, logged_history

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--data.init_args.crop_size", "64", "--data.init_args.resize", "96", "--data.init_args.train_samples_per_epoch", "16",
    "--data.init_args.batch_size", "8", "--data.init_args.eval_crops", "center",
    "--model.init_args.layer", "block1", "--model.init_args.grid_images", "2",
    "--trainer.max_epochs", "2", "--trainer.log_every_n_steps", "1", "--trainer.check_val_every_n_epoch", "1", "--trainer.enable_progress_bar", "false",
]


def test_default_run_writes_checkpoints_config_csv_and_offline_wandb(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_MODE", "offline")
    metrics = main(TINY + ["--checkpoint_root", str(tmp_path), "--experiment", "tiny"])
    run = tmp_path / "tiny"
    out = capsys.readouterr().out
    assert f"checkpoint: {run}" in out and "held-out SSIM:" in out
    assert 0 < metrics["test/ssim"] <= 1 and metrics["test/psnr"] > 5
    assert (run / "last.ckpt").is_file() and len(list(run.glob("best-*.ckpt"))) == 1
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"]["init_args"]["layer"] == "block1" and saved["data"]["class_path"] == "datamodules.SamplePhotos"
    assert saved["seed_everything"] == 0 and saved["trainer"]["max_epochs"] == 2
    csv = (run / "csv" / "version_0" / "metrics.csv").read_text()
    assert "val/ssim" in csv.splitlines()[0] and "train/loss" in csv.splitlines()[0]
    assert (run / "grids" / "val_epoch001.png").is_file()
    offline = list((run / "wandb").glob("offline-run-*"))
    assert len(offline) == 1
    history = logged_history(offline[0])
    logged = {key for row in history for key in row}
    assert {"train/loss", "val/ssim", "val/psnr", "val/mse", "test/ssim"} <= logged
    test_row = next(row for row in history if "test/ssim" in row)
    assert abs(test_row["test/ssim"] - metrics["test/ssim"]) < 1e-6
    grids = [row for row in history if row.get("val/reconstructions/_type") == "images/separated"]
    assert grids and all((offline[0] / "files" / f).is_file() for row in grids for f in row["val/reconstructions/filenames"])
    config = json.dumps(logged_config(offline[0]))
    assert "efficientnet_lite0" in config and "block1" in config


CLUSTER_BASE = ROOT / "configs" / "cluster" / "imagenet_ddp.yaml"


def config_args(config: Path) -> list[str]:
    """A cluster model file is used on top of the cluster base."""
    if config.parent.name == "cluster" and config != CLUSTER_BASE:
        return ["--config", str(CLUSTER_BASE), "--config", str(config)]
    return ["--config", str(config)]


def test_every_config_parses(capsys):
    """Every training YAML under configs/ is a valid LightningCLI config (`--print_config` resolves it)."""
    configs = sorted(c for c in (ROOT / "configs").rglob("*.yaml") if "evaluate" not in c.parts and c != CLUSTER_BASE)
    assert len(configs) >= 10
    for config in configs:
        with pytest.raises(SystemExit) as done:
            build_cli(config_args(config) + ["--print_config"])
        assert done.value.code in (None, 0), config
        printed = yaml.safe_load(capsys.readouterr().out)
        assert printed["model"]["class_path"] and printed["data"]["class_path"], config


@pytest.fixture
def tiny_imagenet(tmp_path) -> Path:
    """An ILSVRC2012-style val/ folder of 12 real photo crops (thesis split 8 train / 4 held out)."""
    import numpy as np
    import skimage.data
    from PIL import Image

    val = tmp_path / "imagenet" / "val"
    val.mkdir(parents=True)
    photo = skimage.data.astronaut()
    for i in range(12):
        crop = photo[20 * i : 20 * i + 80, 30 * i : 30 * i + 80]
        Image.fromarray(np.ascontiguousarray(crop)).save(val / f"ILSVRC2012_val_{i + 1:08d}.JPEG")
    return tmp_path / "imagenet"


CPU_SMOKE = ["--trainer.accelerator", "cpu", "--trainer.devices", "1", "--trainer.strategy", "auto", "--trainer.precision", "32-true",
             "--trainer.max_steps", "1", "--trainer.limit_val_batches", "1", "--trainer.limit_test_batches", "1",
             "--trainer.enable_progress_bar", "false", "--model.init_args.weights", "random", "--wandb", "disabled",
             "--data.init_args.crop_size", "64", "--data.init_args.resize", "72", "--data.init_args.batch_size", "4",
             "--data.init_args.num_workers", "0", "--data.init_args.thesis_train_images", "8", "--data.init_args.thesis_expected_images", "12"]


@pytest.mark.slow
@pytest.mark.parametrize("net", ["alexnet", "vgg16"])
def test_cluster_configs_run_on_cpu_with_random_weights(net, tiny_imagenet, tmp_path):
    """Plumbing only: the cluster configs (ImageNet, DDP, bf16) run one step each on a CPU with
    random weights and a 12-image ImageNet-style folder; the stacked one assembles the parallel run."""
    common = CPU_SMOKE + ["--data.init_args.root", str(tiny_imagenet), "--checkpoint_root", str(tmp_path)]
    for mode in ("parallel", "joint", "end_to_end"):
        metrics = main(config_args(ROOT / "configs" / "cluster" / f"{net}_{mode}.yaml") + common + ["--experiment", f"{net}_{mode}"])
        assert 0 <= metrics["test/ssim"] <= 1
    parallel = tmp_path / f"{net}_parallel" / "last.ckpt"
    metrics = main(config_args(ROOT / "configs" / "cluster" / f"{net}_stacked.yaml") + common
                   + ["--experiment", f"{net}_stacked", "--model.init_args.parallel_checkpoints", f"[{parallel}]"])
    assert 0 <= metrics["test/ssim"] <= 1 and (tmp_path / f"{net}_stacked" / "stacked.ckpt").is_file()


@pytest.mark.slow
def test_two_process_ddp_fit_on_cpu(tmp_path):
    """The cluster path on a CPU: strategy=ddp with 2 gloo processes, through train.py."""
    env = os.environ | {"WANDB_MODE": "offline"}
    cmd = [sys.executable, "train.py", *TINY, "--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu",
           "--checkpoint_root", str(tmp_path), "--experiment", "ddp", "--wandb", "disabled"]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in result.stderr + result.stdout
    assert result.stdout.count("held-out SSIM:") == 1  # printed by rank 0 only
    assert (tmp_path / "ddp" / "last.ckpt").is_file()
    # 16 crops per epoch shared by 2 ranks × batch 8 = 1 step per epoch: the test runs at global step 2
    # (a single process would take 2 steps per epoch and test at step 4)
    rows = list(csv.DictReader((tmp_path / "ddp" / "csv" / "version_0" / "metrics.csv").open()))
    (test_row,) = [row for row in rows if row.get("test/ssim")]
    assert int(test_row["step"]) == 2


@pytest.mark.slow
@pytest.mark.parametrize("config", ["prior_ica_image", "prior_ica_vgg16_conv1_2"])
def test_cluster_prior_configs_run_on_cpu(config, tiny_imagenet, tmp_path):
    """Plumbing only: the ImageNet/DDP prior configs run a step on a CPU (random VGG16 weights)."""
    small = ["--model.init_args.n_filters", "16", "--model.init_args.whitening_patches", "500"]
    metrics = main(config_args(ROOT / "configs" / "cluster" / f"{config}.yaml") + CPU_SMOKE + small
                   + ["--data.init_args.root", str(tiny_imagenet), "--checkpoint_root", str(tmp_path), "--experiment", config])
    assert "test/score_matching" in metrics and (tmp_path / config / "filters.png").is_file()
