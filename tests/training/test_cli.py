"""`train.py` end to end through the real LightningCLI, Trainer, W&B (offline) and DDP (gloo)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml

from deeprestore.training import main
from deeprestore.training.cli import build_cli
from tests.study_runs import tiny_photo_data
from tests.wandb_records import logged_config, logged_history

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    *tiny_photo_data(samples_per_epoch=16),
    "--model.init_args.layer",
    "block1",
    "--model.init_args.grid_images",
    "2",
    "--trainer.max_epochs",
    "2",
    "--trainer.log_every_n_steps",
    "1",
    "--trainer.check_val_every_n_epoch",
    "1",
    "--trainer.enable_progress_bar",
    "false",
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


# the cluster configs at their own precision (bf16-mixed: CPU autocast here), one device, one step
#: whether this CPU computes bf16 natively (AVX512-BF16 / AMX); without, oneDNN emulates it slowly
NATIVE_BF16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
CPU_SMOKE = [
    "--trainer.accelerator",
    "cpu",
    "--trainer.devices",
    "1",
    "--trainer.strategy",
    "auto",
    "--trainer.precision",
    "bf16-mixed",
    "--trainer.max_steps",
    "1",
    "--trainer.limit_val_batches",
    "1",
    "--trainer.limit_test_batches",
    "1",
    "--trainer.enable_progress_bar",
    "false",
    "--model.init_args.weights",
    "random",
    "--wandb",
    "disabled",
    "--data.init_args.crop_size",
    "64",
    "--data.init_args.resize",
    "72",
    "--data.init_args.batch_size",
    "4",
    "--data.init_args.num_workers",
    "0",
    "--data.init_args.thesis_train_images",
    "8",
    "--data.init_args.thesis_expected_images",
    "12",
]


@pytest.mark.slow
@pytest.mark.parametrize("net", ["alexnet", "vgg16"])
def test_cluster_configs_run_on_cpu_with_random_weights(net, tiny_imagenet, tmp_path):
    """Plumbing only: the cluster configs (ImageNet, DDP, bf16) run one step each on a CPU with
    random weights and a 12-image ImageNet-style folder; the stacked one assembles the parallel run;
    DeePSiM's comparator takes the random weights too.
    AlexNet always in bf16-mixed; VGG16 too where the CPU has bf16 instructions (else float32)."""
    common = CPU_SMOKE + ["--data.init_args.root", str(tiny_imagenet), "--checkpoint_root", str(tmp_path)]
    if net == "vgg16" and not NATIVE_BF16:  # emulated bf16 convolutions: 20× float32's time, 9 minutes here
        common += ["--trainer.precision", "32-true"]
    for mode in ("parallel", "joint", "end_to_end", "deepsim"):
        metrics = main(config_args(ROOT / "configs" / "cluster" / f"{net}_{mode}.yaml") + common + ["--experiment", f"{net}_{mode}"])
        assert 0 <= metrics["test/ssim"] <= 1
    parallel = tmp_path / f"{net}_parallel" / "last.ckpt"
    metrics = main(
        config_args(ROOT / "configs" / "cluster" / f"{net}_stacked.yaml")
        + common
        + ["--experiment", f"{net}_stacked", "--model.init_args.parallel_checkpoints", f"[{parallel}]"]
    )
    assert 0 <= metrics["test/ssim"] <= 1 and (tmp_path / f"{net}_stacked" / "stacked.ckpt").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("config", ["resnet50_generic", "efficientnet_lite0_generic"])
def test_generic_decoder_cluster_configs_run_on_cpu_with_random_weights(config, tiny_imagenet, tmp_path):
    """Plumbing only: a generic decoder for torchvision's ResNet-50 and for EfficientNet-Lite0, one step each."""
    common = CPU_SMOKE + ["--data.init_args.root", str(tiny_imagenet), "--checkpoint_root", str(tmp_path)]
    metrics = main(config_args(ROOT / "configs" / "cluster" / f"{config}.yaml") + common)
    assert 0 <= metrics["test/ssim"] <= 1
    name = "torchvision-resnet50_layer3_generic" if config.startswith("resnet50") else "efficientnet_lite0_block4_generic"
    assert (tmp_path / name / "results.json").is_file()


@pytest.mark.slow
def test_two_process_ddp_fit_on_cpu(tmp_path):
    """The cluster path on a CPU: strategy=ddp with 2 gloo processes and bf16-mixed, through train.py."""
    env = os.environ | {"WANDB_MODE": "offline"}
    cmd = [
        sys.executable,
        "train.py",
        *TINY,
        "--trainer.strategy",
        "ddp",
        "--trainer.devices",
        "2",
        "--trainer.accelerator",
        "cpu",
        "--trainer.precision",
        "bf16-mixed",
        "--checkpoint_root",
        str(tmp_path),
        "--experiment",
        "ddp",
        "--wandb",
        "disabled",
    ]
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
    metrics = main(
        config_args(ROOT / "configs" / "cluster" / f"{config}.yaml")
        + CPU_SMOKE
        + small
        + ["--data.init_args.root", str(tiny_imagenet), "--checkpoint_root", str(tmp_path), "--experiment", config]
    )
    assert "test/score_matching" in metrics and (tmp_path / config / "filters.png").is_file()


def test_embedded_default_settings_stay_with_the_embedded_default(capsys):
    """configs/default.yaml is read only when no --config and no model class is given: another
    model class starts from its own defaults (an image prior, not a block3 feature-map prior)."""
    with pytest.raises(SystemExit):
        build_cli(["--model", "deeprestore.priors.PatchPriorModule", "--print_config"])
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["init_args"]["net"] is None and printed["model"]["init_args"]["layer"] is None
    assert printed["trainer"]["max_epochs"] is None  # Lightning's default, not the embedded default's 30
    assert printed["data"]["class_path"] == "datamodules.SamplePhotos"
    with pytest.raises(SystemExit):
        build_cli(["--model.init_args.layer", "block5", "--print_config"])  # the embedded default, one option changed
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["init_args"]["layer"] == "block5" and printed["trainer"]["max_epochs"] == 30
    default = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())
    with pytest.raises(SystemExit):
        build_cli(["--config", str(ROOT / "configs" / "inverters" / "efficientnet_lite0_joint.yaml"), "--print_config"])
    printed = yaml.safe_load(capsys.readouterr().out)
    assert {k: printed["data"]["init_args"][k] for k in default["data"]["init_args"]} == default["data"]["init_args"]


def test_subcommands_fit_then_test_a_checkpoint_alone(tmp_path, monkeypatch, capsys):
    """`train.py fit` trains only; `train.py test --ckpt_path <file>` tests it without training,
    reading the run's config.yaml, and writes config_test.yaml beside it."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    main(["fit", *TINY, "--checkpoint_root", str(tmp_path), "--experiment", "sub", "--wandb", "disabled"])
    run = tmp_path / "sub"
    out = capsys.readouterr().out
    best = next(run.glob("best-*.ckpt"))
    assert f"best checkpoint: {best}" in out and "held-out SSIM" not in out
    assert (run / "config.yaml").is_file() and not (run / "csv" / "version_0" / "metrics.csv").read_text().count("test/")
    tested = main(["test", "--ckpt_path", str(best)])
    assert "held-out SSIM:" in capsys.readouterr().out and 0 < tested["test/ssim"] <= 1
    assert (run / "config_test.yaml").is_file()
    # the same checkpoint tested by the run without a subcommand (fit, then test the best) gives the same numbers
    again = main(TINY + ["--checkpoint_root", str(tmp_path), "--experiment", "plain", "--wandb", "disabled"])
    assert again["test/ssim"] == pytest.approx(tested["test/ssim"], rel=1e-6)


def test_optimizer_and_lr_scheduler_options_configure_training(tmp_path):
    """--optimizer / --lr_scheduler (LightningCLI's standard hook) replace the module's Adam."""
    common = TINY + ["--checkpoint_root", str(tmp_path), "--wandb", "disabled"]
    main(
        common
        + [
            "--experiment",
            "sgd",
            "--optimizer",
            "torch.optim.SGD",
            "--optimizer.lr",
            "0.0",
            "--optimizer.momentum",
            "0.5",
            "--lr_scheduler",
            "torch.optim.lr_scheduler.StepLR",
            "--lr_scheduler.step_size",
            "1",
        ]
    )
    main(common + ["--experiment", "adam"])
    sgd = torch.load(tmp_path / "sgd" / "last.ckpt", map_location="cpu", weights_only=False)
    adam = torch.load(tmp_path / "adam" / "last.ckpt", map_location="cpu", weights_only=False)
    group = sgd["optimizer_states"][0]["param_groups"][0]
    assert group["momentum"] == 0.5 and "betas" not in group and "betas" in adam["optimizer_states"][0]["param_groups"][0]
    assert sgd["lr_schedulers"] and sgd["lr_schedulers"][0]["step_size"] == 1
    from deeprestore.inverters import InvertingNetwork

    L.seed_everything(0)  # the untrained modules: what every run starts from
    init = InvertingNetwork(layer="block1", lr=1e-3).chain.state_dict()
    trained = {k[len("chain.") :]: v for k, v in adam["state_dict"].items() if k.startswith("chain.")}
    frozen = {k[len("chain.") :]: v for k, v in sgd["state_dict"].items() if k.startswith("chain.")}
    assert all(torch.equal(frozen[k], init[k]) for k in init)  # lr 0: nothing moved
    assert not all(torch.equal(trained[k], init[k]) for k in init)


def test_fast_path_callbacks_train_the_same_model(tmp_path):
    """The default config's ChannelsLast, plus --trainer.callbacks+=CompileModules: same checkpoint
    keys, same held-out scores (within float reassociation) as the plain run (no callbacks)."""
    common = TINY + ["--checkpoint_root", str(tmp_path), "--wandb", "disabled"]
    plain = main(common + ["--experiment", "plain", "--trainer.callbacks=[]"])
    fast = main(common + ["--experiment", "fast", "--trainer.callbacks+=deeprestore.training.CompileModules"])
    saved = (tmp_path / "fast" / "config.yaml").read_text()
    assert "deeprestore.training.ChannelsLast" in saved and "deeprestore.training.CompileModules" in saved
    assert "ChannelsLast" not in (tmp_path / "plain" / "config.yaml").read_text()
    assert fast["test/ssim"] == pytest.approx(plain["test/ssim"], rel=1e-3)
    a = torch.load(tmp_path / "plain" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    b = torch.load(tmp_path / "fast" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    assert a.keys() == b.keys()
    assert max((a[k].float() - b[k].float()).abs().max().item() for k in a) < 1e-3
    with pytest.raises(ValueError, match="no submodule 'decoder'"):
        main(
            common
            + ["--experiment", "bad", "--trainer.callbacks+=deeprestore.training.CompileModules", "--trainer.callbacks.modules=[decoder]"]
        )


def test_a_refused_trainer_option_leaves_no_experiment_folder(tmp_path):
    """The run folder is made before the Trainer; an option the Trainer refuses removes it again
    (empty), and a folder that was there before is left alone."""
    args = ["--checkpoint_root", str(tmp_path), "--experiment", "typo", "--wandb", "disabled", "--trainer.accelerator", "sideways"]
    with pytest.raises(Exception, match="sideways"):
        main(args)
    assert not (tmp_path / "typo").exists()
    (tmp_path / "typo").mkdir()
    with pytest.raises(Exception, match="sideways"):
        main(args)
    assert (tmp_path / "typo").is_dir()
