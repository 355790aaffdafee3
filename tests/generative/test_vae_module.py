"""The VAE generator trains through the real Trainer and feeds the inverse-problems study of evaluate.py."""

import csv

import pytest
import torch

from deeprestore.generative import load_generator
from deeprestore.studies.cli import main as evaluate_main


def _train_losses(run) -> list[float]:
    rows = csv.DictReader((run / "csv" / "version_0" / "metrics.csv").open())
    return [float(r["train/loss"]) for r in rows if r.get("train/loss")]


def test_a_generator_trains_and_the_inverse_problems_study_runs_on_it(tmp_path):
    from deeprestore.training import main

    args = [
        "--config",
        "configs/generators/vae_conv_photos.yaml",
        "--checkpoint_root",
        str(tmp_path),
        "--experiment",
        "vae",
        "--wandb",
        "disabled",
        "--trainer.max_epochs",
        "6",
        "--trainer.log_every_n_steps",
        "1",
        "--trainer.check_val_every_n_epoch",
        "2",
        "--trainer.enable_progress_bar",
        "false",
        "--model.init_args.width",
        "32",
        "--model.init_args.image_size",
        "16",
        "--data.init_args.crop_size",
        "16",
        "--data.init_args.resize",
        "32",
        "--data.init_args.train_samples_per_epoch",
        "128",
    ]
    metrics = main(args)
    run = tmp_path / "vae"
    losses = _train_losses(run)
    assert len(losses) >= 18 and sum(losses[-4:]) / 4 < 0.9 * sum(losses[:4]) / 4  # the negative ELBO falls
    assert metrics["test/psnr"] > 12.0
    generator = load_generator(str(run / "last.ckpt"))
    assert generator.layer_shapes()[-1] == (3, 16, 16) and not any(p.requires_grad for p in generator.parameters())
    samples = generator(torch.randn(4, 64))
    assert samples.min() >= 0 and samples.max() <= 1

    out = tmp_path / "study"
    rows = evaluate_main(
        [
            "inverse-problems",
            "--generator",
            str(run / "last.ckpt"),
            "--operators",
            "inpaint-pixels",
            "cs-circulant",
            "--ilo_layers",
            "0",
            "1",
            "2",
            "--ilo_steps",
            "20",
            "10",
            "10",
            "--ilo_radii",
            "0.1",
            "0.2",
            "--report_root",
            str(tmp_path),
            "--experiment",
            "study",
            "--wandb",
            "offline",
            "--progress",
            "false",
        ]
    )
    with open(out / "inverse_problems.csv") as f:
        read = list(csv.DictReader(f))
    assert len(read) == len(rows) == 2 * 2 * 10  # operators × methods × held-out crops
    assert {r["method"] for r in read} == {"csgm", "ilo"}
    assert "| cs-circulant |" in (out / "report.md").read_text()
    assert (out / "plots" / "cs-circulant.png").is_file() and (out / "config.yaml").is_file()
    assert list((out / "wandb").glob("offline-run-*"))


@pytest.mark.slow
def test_cluster_generator_config_runs_on_cpu(tmp_path):
    """Plumbing only: the CelebA/DDP generator config runs a step on a CPU on a small folder of real photo crops."""
    import numpy as np
    import skimage.data
    from PIL import Image

    from deeprestore.training import main

    photo = skimage.data.astronaut()
    for split, count in (("train", 6), ("val", 2)):
        (tmp_path / split).mkdir()
        for i in range(count):
            Image.fromarray(np.ascontiguousarray(photo[40 * i : 40 * i + 100, 50 * i : 50 * i + 90])).save(tmp_path / split / f"{i}.jpg")
    metrics = main(
        [
            "--config",
            "configs/generators/vae_conv_celeba_ddp.yaml",
            "--trainer.accelerator",
            "cpu",
            "--trainer.devices",
            "1",
            "--trainer.strategy",
            "auto",
            "--trainer.precision",
            "32-true",
            "--trainer.max_steps",
            "2",
            "--trainer.enable_progress_bar",
            "false",
            "--wandb",
            "disabled",
            "--data.init_args.train",
            str(tmp_path / "train"),
            "--data.init_args.val",
            str(tmp_path / "val"),
            "--data.init_args.batch_size",
            "4",
            "--data.init_args.num_workers",
            "0",
            "--model.init_args.width",
            "32",
            "--checkpoint_root",
            str(tmp_path / "ckpt"),
        ]
    )
    assert metrics["test/psnr"] > 0 and (tmp_path / "ckpt" / "generator_vae_conv_celeba" / "last.ckpt").is_file()
