"""Checkpoints are data: a malicious pickle never runs, through every path that loads one, and the
user gets one line; the project's own checkpoints load as data."""

from __future__ import annotations

import builtins
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from deeprestore.checkpoint_files import read_checkpoint
from deeprestore.studies.cli import main as evaluate
from tests.study_runs import QUIET
from tests.tiny_checkpoints import dae_prior, generator, inverter, patch_prior

ROOT = Path(__file__).resolve().parents[1]


class _Payload:
    """Unpickled, it creates the file ``marker`` (``open(marker, "w")``): proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return builtins.open, (str(self.marker), "w")


def malicious_checkpoint(path: Path, marker: Path, **hyper_parameters) -> Path:
    """A Lightning-looking checkpoint (an inverting network's hyper-parameters) with the payload."""
    path.parent.mkdir(parents=True, exist_ok=True)
    hp = {"net": "efficientnet_lite0", "layer": "block2", "mode": "parallel", "expert": "ica", "sigma": 0.1, **hyper_parameters}
    torch.save({"state_dict": {"w": torch.zeros(1)}, "hyper_parameters": {**hp, "payload": _Payload(marker)}}, path)
    return path


@pytest.fixture
def evil(tmp_path) -> tuple[Path, Path]:
    marker = tmp_path / "code_ran"
    return malicious_checkpoint(tmp_path / "evil" / "last.ckpt", marker), marker


def test_the_projects_own_checkpoints_read_as_data(tmp_path):
    for make in (dae_prior, generator, inverter, lambda p: patch_prior(p, grey=True)):
        checkpoint = read_checkpoint(make(tmp_path / "ckpt.ckpt"))
        assert "state_dict" in checkpoint and isinstance(checkpoint["hyper_parameters"], dict)


def test_a_malicious_checkpoint_is_refused_by_name_and_never_runs(evil):
    path, marker = evil
    with pytest.raises(ValueError, match=r"refused: unpickling it could run code \(it needs io.open\); if you trust it, load it with X"):
        read_checkpoint(path, "--generator", trust_option="X")
    assert not marker.exists()


@pytest.mark.parametrize(
    "study",
    [
        ["inverse-problems", "--generator", "{path}"],
        ["lp", "--vae_generator", "{path}", "--trials", "1", "--dimension_trials", "1", "--latent_dims", "3", "--expansions", "2"],
        ["inversion", "--learned_priors", "{path}", "--checkpoints", ""],
        ["denoise", "--priors", "{path}"],
    ],
    ids=["inverse-problems", "lp", "inversion", "denoise"],
)
def test_every_evaluate_option_naming_a_checkpoint_refuses_it(study, evil, tmp_path):
    path, marker = evil
    args = [a.replace("{path}", str(path)) for a in study]
    with pytest.raises(ValueError, match=r"refused: unpickling it could run code .* --trust_checkpoints true"):
        evaluate([*args, "--report_root", str(tmp_path), "--wandb", "disabled", "--progress", "false"])
    assert not marker.exists()


def test_a_checkpoint_the_study_finds_by_itself_is_skipped_with_a_note(evil, tmp_path, capsys):
    """Dropped as checkpoints/<run>/last.ckpt, it is never trusted, even with --trust_checkpoints."""
    path, marker = evil
    image = tmp_path / "photo.png"
    Image.fromarray((np.random.default_rng(0).random((32, 32, 3)) * 255).astype("uint8")).save(image)
    evaluate(
        [
            "inversion",
            "--checkpoints",
            str(path.parents[1]),
            "--images.files",
            str(image),
            "--images.crop_size",
            "32",
            "--network.layers",
            "stem",
            "--optimisation.presets",
            "gd-plain",
            "--optimisation.iterations_scale",
            "0.01",
            "--report_root",
            str(tmp_path),
            "--experiment",
            "found",
            *QUIET,
            "--trainer.accelerator",
            "cpu",
            "--trust_checkpoints",
            "true",
        ]
    )
    assert "refused: unpickling it could run code" in capsys.readouterr().out and not marker.exists()


def test_the_stacked_mode_reads_its_parallel_checkpoints_as_data(evil):
    from deeprestore.inverters import InvertingNetwork

    path, marker = evil
    with pytest.raises(ValueError, match="refused"):
        InvertingNetwork(net="efficientnet_lite0", layer="block2", mode="stacked", width=0.25, parallel_checkpoints=[str(path)])
    assert not marker.exists()


def test_trusting_a_named_checkpoint_unpickles_it(evil, tmp_path):
    path, marker = evil
    with pytest.raises(ValueError):  # it runs, then is not a generator checkpoint
        evaluate(
            [
                "inverse-problems",
                "--generator",
                str(path),
                "--trust_checkpoints",
                "true",
                "--report_root",
                str(tmp_path),
                *QUIET,
            ]
        )
    assert marker.exists()


def test_train_py_refuses_a_malicious_ckpt_path_in_one_line(evil):
    path, marker = evil
    env = os.environ | {"WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "train.py", "--ckpt_path", str(path)], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 2 and not marker.exists()
    errors = [line for line in done.stderr.splitlines() if line.startswith("train.py: error:")]
    assert len(errors) == 1 and "refused: unpickling it could run code" in errors[0] and "--weights_only false" in errors[0], done.stderr
