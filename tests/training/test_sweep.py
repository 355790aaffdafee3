"""``python train.py sweep``: one inverting network per layer, found by the inversion study."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import skimage.data
from PIL import Image

from deeprestore.studies.cli import main as evaluate
from deeprestore.training import main as train
from tests.study_runs import QUIET, tiny_photo_data

#: the embedded default's model and data at 64² crops, one short epoch
TINY = [
    *tiny_photo_data(samples_per_epoch=16),
    "--model.init_args.grid_images",
    "0",
    "--trainer.max_epochs",
    "1",
    "--trainer.log_every_n_steps",
    "1",
    "--trainer.enable_progress_bar",
    "false",
    "--wandb",
    "disabled",
]


def test_a_sweep_trains_one_inverter_per_layer_and_the_study_finds_them(tmp_path, capsys):
    root = tmp_path / "checkpoints"
    metrics = train(["sweep", "--layers", "stem", "block2", *TINY, "--checkpoint_root", str(root)])
    folders = sorted(p.name for p in root.iterdir())
    assert folders == ["efficientnet_lite0_block2_joint", "efficientnet_lite0_stem_joint"]
    for folder in folders:
        saved = json.loads((root / folder / "results.json").read_text())
        assert Path(saved["checkpoint"]).is_file() and 0 < saved["test"]["test/ssim"] <= 1
    assert set(metrics) >= {"stem/test/ssim", "block2/test/ssim"}
    again = train(["sweep", "--layers", "stem", "block2", *TINY, "--checkpoint_root", str(root)])
    assert again == metrics and capsys.readouterr().out.count("finished before (skipped)") == 2

    Image.fromarray(skimage.data.coffee()[120:184, 260:324]).save(tmp_path / "coffee.png")
    result = evaluate(
        [
            "inversion",
            "--images",
            str(tmp_path / "coffee.png"),
            "--crop_size",
            "64",
            "--layers",
            "stem",
            "block2",
            "--presets",
            "[]",
            "--checkpoints",
            str(root),
            *QUIET,
            "--report_root",
            str(tmp_path),
            "--experiment",
            "study",
        ]
    )
    assert sorted((r["method"], r["layer"]) for r in result.rows) == [("inverter-joint", "block2"), ("inverter-joint", "stem")]


def test_sweep_options(tmp_path, capsys):
    train(["sweep", "--layers", "stem", "block1", "block4", "--index", "1", "--print_commands", "--trainer.max_epochs", "3"])
    assert capsys.readouterr().out.strip() == "python train.py --trainer.max_epochs 3 --model.init_args.layer block1"
    with pytest.raises(ValueError, match="--index 3 is out of range: 3 layers"):
        train(["sweep", "--layers", "stem", "block1", "block4", "--index", "3"])
    with pytest.raises(ValueError, match="set by the sweep"):
        train(["sweep", "--layers", "stem", "--model.init_args.layer", "block1"])


def test_a_sweep_without_layers_takes_the_evaluation_configs(tmp_path, capsys):
    train(["sweep", "--print_commands", "--trainer.max_epochs", "3"])
    assert capsys.readouterr().out.strip().splitlines()[1:] == [
        f"python train.py --trainer.max_epochs 3 --model.init_args.layer {layer}" for layer in ("block1", "block4", "block8")
    ]
    train(["sweep", "--evaluate_config", "configs/evaluate/full.yaml", "--print_commands"])
    assert len(capsys.readouterr().out.strip().splitlines()) == 1 + 8
    (tmp_path / "none.yaml").write_text("presets: [mv2016]\n")
    with pytest.raises(ValueError, match="lists no `network.layers`"):
        train(["sweep", "--evaluate_config", str(tmp_path / "none.yaml")])
    with pytest.raises(ValueError, match="no such file"):
        train(["sweep", "--evaluate_config", str(tmp_path / "missing.yaml")])
