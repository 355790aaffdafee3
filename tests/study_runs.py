"""Study and training runs as the tests start them: tiny training data, an inversion study as a
subprocess (``python evaluate.py inversion``) with the options every such run shares, the options
that place a study's folder, list values on the command line, and the CSV files a study writes."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import skimage.data
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
#: the options of every study or training run in the tests: no W&B, no progress bars
QUIET = ["--wandb", "disabled", "--progress", "false"]


def inversion_command(out: Path, *options: str) -> list[str]:
    """The command writing the study folder ``out`` on the CPU, without W&B, progress bars or
    inverting networks; ``options`` (the images, layers, presets, budget …) follow, and win."""
    return [sys.executable, "evaluate.py", "inversion", "--checkpoints", "", "--wandb", "disabled", "--progress", "false",
            "--report_root", str(out.parent), "--experiment", out.name, "--trainer.accelerator", "cpu", *options]  # fmt: skip


def tiny_photo_data(samples_per_epoch: int) -> list[str]:
    """``train.py`` options for the embedded default's photos at 64² crops (resized to 96), batches
    of 8, ``samples_per_epoch`` training crops and centre crops for evaluation."""
    return ["--data.init_args.crop_size", "64", "--data.init_args.resize", "96", "--data.init_args.train_samples_per_epoch",
            str(samples_per_epoch), "--data.init_args.batch_size", "8", "--data.init_args.eval_crops", "center"]  # fmt: skip


def study_env() -> dict[str, str]:
    """The environment of a study subprocess: one thread (tests run side by side), W&B off."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}


def metrics_rows(out: Path) -> list[dict[str, str]]:
    """The rows of ``out/metrics.csv``."""
    return csv_rows(out / "metrics.csv")[1]


def csv_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows of the CSV file ``path``."""
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def as_list(*items: str) -> str:
    """A list option's value on the command line (jsonargparse: ``[a,b]``)."""
    return "[" + ",".join(items) + "]"


def out_args(out: Path) -> list[str]:
    """The options that put a study's folder at ``out``."""
    return ["--report_root", str(out.parent), "--experiment", out.name]


def write_photo_crops(folder: Path, size: int = 32) -> list[Path]:
    """``size``² crops of scikit-image's astronaut and coffee photos as PNGs in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in ("astronaut", "coffee"):
        paths.append(folder / f"{name}.png")
        Image.fromarray(getattr(skimage.data, name)()[100 : 100 + size, 150 : 150 + size]).save(paths[-1])
    return paths
