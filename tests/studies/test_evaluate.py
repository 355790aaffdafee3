"""`evaluate.py` end to end through the real network, the optimisation engine and a trained inverter.

Two real 48×48 photo crops, two layers, the mv2016 and gd-plain presets at 5% of their iterations.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
import yaml
from PIL import Image
from skimage.metrics import mean_squared_error, structural_similarity

from deeprestore.cli_errors import run_command
from deeprestore.nets import load_network
from deeprestore.studies.cli import build_parser, main, make_study, with_default_study
from deeprestore.studies.inversion.inverter_checkpoints import checkpoint_in, find_inverter_checkpoints
from deeprestore.studies.inversion.scoring import COLUMNS, read_rows, score
from deeprestore.studies.inversion.study import InversionStudy

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["stem", "block1"]
METHODS = ["mv2016", "gd-plain"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors: one intra-op thread. On a busy 2-core machine two OpenMP threads wait on each
    other for every operation (measured: a 48×48 forward pass 2 s instead of 0.03 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def as_list(*items: str) -> str:
    """A list option's value on the command line (jsonargparse: ``[a,b]``)."""
    return "[" + ",".join(items) + "]"


def out_args(out: Path) -> list[str]:
    return ["--report_root", str(out.parent), "--experiment", out.name]


def study_args(photos: Path, out: Path, *extra: str) -> list[str]:
    return [
        "inversion",
        "--images.files",
        as_list(str(photos / "astronaut.png"), str(photos / "coffee.png")),
        "--images.crop_size",
        "48",
        "--network.layers",
        as_list(*LAYERS),
        "--optimisation.presets",
        as_list(*METHODS),
        "--optimisation.iterations_scale",
        "0.05",
        "--checkpoints",
        "",
        "--wandb",
        "disabled",
        "--progress",
        "false",
        *out_args(out),
        *extra,
    ]


@pytest.fixture(scope="module")
def study(photos, tmp_path_factory):
    """One study run: ``(out folder, StudyResult)``."""
    out = tmp_path_factory.mktemp("study") / "out"
    return out, main(study_args(photos, out))


def csv_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def test_metrics_csv_has_the_columns_rows_and_valid_values(study):
    out, result = study
    header, rows = csv_rows(out / "metrics.csv")
    assert (
        header
        == [
            "method",
            "net",
            "layer",
            "image",
            "label",
            "mse",
            "psnr",
            "ssim",
            "feature_error",
            "top1_kept",
            "top1_correct",
            "diverged",
            "seconds",
            "training_run",
            "training_wandb_id",
        ]
        == list(COLUMNS)
    )
    assert len(rows) == 2 * 2 * 2
    assert {(r["method"], r["layer"], r["image"]) for r in rows} == {
        (m, layer, i) for m in METHODS for layer in LAYERS for i in ("astronaut", "coffee")
    }
    for r in rows:
        assert r["net"] == "efficientnet_lite0"
        assert -1 <= float(r["ssim"]) <= 1 and float(r["psnr"]) > 0 and float(r["mse"]) >= 0
        assert float(r["feature_error"]) >= 0 and r["top1_kept"] in ("True", "False") and r["diverged"] == "False"
        assert float(r["seconds"]) > 0
        assert r["label"] == r["top1_correct"] == r["training_run"] == ""  # files without labels; no trained method
    assert sorted(result.ran) == sorted((m, layer) for m in METHODS for layer in LAYERS) and not result.skipped


def test_numbers_are_those_of_the_saved_reconstructions(study, photos):
    """MSE and SSIM as scikit-image computes them on the saved reconstruction; feature error and
    top-1 as recomputed; gd-plain's numbers are not mv2016's."""
    out, _ = study
    rows = read_rows(out / "metrics.csv")
    net = load_network("efficientnet_lite0")
    for method in METHODS:
        for layer in LAYERS:
            saved = torch.load(out / "reconstructions" / f"{method}_{layer}.pt")
            assert saved["images"] == ["astronaut", "coffee"]
            recon = saved["reconstructions"].clamp(0, 1)
            originals = torch.stack(
                [torch.from_numpy(np.asarray(Image.open(photos / f"{n}.png"))).permute(2, 0, 1).float() / 255 for n in saved["images"]]
            )
            again = score(net, layer, originals, recon, [None, None])
            for i, name in enumerate(saved["images"]):
                (row,) = [r for r in rows if (r["method"], r["layer"], r["image"]) == (method, layer, name)]
                a = recon[i].permute(1, 2, 0).double().numpy()
                b = originals[i].permute(1, 2, 0).double().numpy()
                assert row["mse"] == pytest.approx(mean_squared_error(a, b), rel=1e-4)
                assert row["ssim"] == pytest.approx(
                    structural_similarity(
                        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=-1
                    ),
                    abs=1e-4,
                )
                assert row["feature_error"] == pytest.approx(float(again["feature_error"][i]), rel=1e-4)
                assert row["top1_kept"] == bool(again["top1_kept"][i])
    by_job = {(r["method"], r["layer"], r["image"]): r["ssim"] for r in rows}
    assert all(by_job[("mv2016", layer, i)] != by_job[("gd-plain", layer, i)] for layer in LAYERS for i in ("astronaut", "coffee"))


def test_json_report_plots_grids_and_config(study):
    out, _ = study
    assert json.loads((out / "metrics.json").read_text()) == read_rows(out / "metrics.csv")
    report = (out / "report.md").read_text()
    assert "python evaluate.py inversion --images.files" in report and "resolved config (config.yaml)" in report
    for layer in LAYERS:
        section = report.split(f"## Layer {layer}\n")[1].split("\n## ")[0]
        assert "| method | images | MSE | PSNR (dB) | SSIM | feature error | top-1 kept | top-1 correct | diverged |" in section
        assert all(f"| {m} | 2 |" in section for m in METHODS)
        assert all(f"(grids/{m}_{layer}.png)" in section for m in METHODS)
        assert (
            "| method | worst feature error (image) | worst SSIM (image) | feature error ≤ 0.15 | feature error ≤ 0.25 | SSIM > gd-plain's |"
            in section
        )
    summary = report.split("## Summary: mean SSIM\n")[1].split("\n## ")[0]
    assert "| layer | mv2016 | gd-plain |" in summary and summary.index("| stem |") < summary.index("| block1 |")
    for metric in ("mse", "psnr", "ssim", "feature_error", "top1_kept"):
        assert (out / "plots" / f"{metric}.png").stat().st_size > 1000 and f"(plots/{metric}.png)" in report
    for m in METHODS:
        for layer in LAYERS:
            assert Image.open(out / "grids" / f"{m}_{layer}.png").size == (4 * 50 + 2, 2 * 50 + 2)
    for image in ("astronaut", "coffee"):  # layer sweeps: rows = methods, columns = original + layers
        assert f"(plots/layers_{image}.png)" in report
        width, height = Image.open(out / "plots" / f"layers_{image}.png").size
        assert width > height * (len(LAYERS) + 1) / len(METHODS) * 0.8
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert (
        config["layers"] == LAYERS and config["optimisation"]["presets"] == METHODS and config["optimisation"]["iterations_scale"] == 0.05
    )
    assert [m["name"] for m in config["methods"]] == METHODS and not config["checkpoints"]
    assert config["image_names"] == ["astronaut", "coffee"] and config["trainer"]["devices"] == 1


def test_rerun_skips_finished_jobs_and_refuses_other_settings(study, photos, capsys):
    out, _ = study
    before = (out / "metrics.csv").read_bytes()
    again = main(study_args(photos, out))
    assert not again.ran and len(again.skipped) == 4
    assert (out / "metrics.csv").read_bytes() == before
    assert "ran 0 job(s), skipped 4 finished job(s)" in capsys.readouterr().out
    # an interrupted study: the rows of one job are missing → only that job runs, with the same numbers
    header, rows = csv_rows(out / "metrics.csv")
    kept = [r for r in rows if (r["method"], r["layer"]) != ("gd-plain", "block1")]
    with (out / "metrics.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)
    resumed = main(study_args(photos, out))
    assert resumed.ran == [("gd-plain", "block1")] and len(resumed.skipped) == 3
    after = {(r["method"], r["layer"], r["image"]): r for r in csv_rows(out / "metrics.csv")[1]}
    assert len(after) == 8
    for r in rows:
        assert float(after[(r["method"], r["layer"], r["image"])]["ssim"]) == pytest.approx(float(r["ssim"]), abs=1e-5)
    with pytest.raises(ValueError, match="other settings.*iterations_scale"):
        main(study_args(photos, out, "--optimisation.iterations_scale", "0.1"))
    with pytest.raises(ValueError, match="other settings.*batch_size: 8 before, 1 now"):
        main(study_args(photos, out, "--images.batch_size", "1"))
    config = yaml.safe_load((out / "config.yaml").read_text())
    del config["random_streams"]  # a folder written before the per-image noise streams
    (out / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ValueError, match="other settings.*random_streams: None before"):
        main(study_args(photos, out))


def test_clear_errors(photos, tmp_path, monkeypatch, capsys):
    out = tmp_path / "never"
    with pytest.raises(ValueError, match="unknown layer 'block99' for efficientnet_lite0; valid layers: stem, block1"):
        main(study_args(photos, out, "--network.layers", as_list("block99")))
    with pytest.raises(ValueError, match="unknown preset 'mv2099'; choose from mv2016, mv2016-calibrated, mv2015, gd-plain"):
        main(study_args(photos, out, "--optimisation.presets", as_list("mv2099")))
    with pytest.raises(ValueError, match="unknown network 'resnet'"):
        main(study_args(photos, out, "--network.name", "resnet"))
    with pytest.raises(FileNotFoundError, match="image path does not exist: .*missing.png"):
        main(study_args(photos, out, "--images.files", as_list(str(tmp_path / "missing.png"))))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no image files in folder .*empty"):
        main(study_args(photos, out, "--images.files", as_list(str(tmp_path / "empty"))))
    assert not out.exists()
    monkeypatch.setattr("sys.argv", ["evaluate.py", *study_args(photos, out, "--network.layers", as_list("block99"))])
    assert run_command(main, "evaluate.py") == 2
    assert "evaluate.py: error: unknown layer 'block99'" in capsys.readouterr().err


def test_no_subcommand_is_the_inversion_study_on_the_embedded_default():
    assert with_default_study([]) == ["inversion", "--config", str(ROOT / "configs/evaluate/default.yaml")]
    assert with_default_study(["--network.layers", "[stem]"])[:3] == ["inversion", "--config", str(ROOT / "configs/evaluate/default.yaml")]
    assert with_default_study(["inversion", "--config", "x.yaml"]) == ["inversion", "--config", "x.yaml"]
    assert with_default_study(["lp", "--trials", "3"]) == ["lp", "--trials", "3"]
    study = make_study(build_parser().parse_args(with_default_study([])))
    assert (
        isinstance(study, InversionStudy)
        and study.network.layers == ["block1", "block4", "block8"]
        and study.optimisation.iterations_scale == 1.0
    )
    assert study.optimisation.presets == ["mv2016", "gd-plain"] and study.images.files is None and study.trainer.devices == 1


def test_checkpoint_choice_per_experiment(tmp_path):
    folder = tmp_path / "exp"
    folder.mkdir()
    (folder / "last.ckpt").touch()
    assert checkpoint_in(folder).name == "last.ckpt"
    (folder / "stacked.ckpt").touch()
    assert checkpoint_in(folder).name == "stacked.ckpt"
    old, new = folder / "best-epoch009-step9.ckpt", folder / "best-epoch001-step1.ckpt"
    old.touch()
    new.touch()
    stamp = time.time()
    import os

    os.utime(old, (stamp - 100, stamp - 100))
    assert checkpoint_in(folder) == new


@pytest.mark.slow
def test_trained_inverter_is_evaluated_at_its_layer(photos, tmp_path, capsys):
    from deeprestore.training import main as train

    root = tmp_path / "checkpoints"
    train(
        [
            "--checkpoint_root",
            str(root),
            "--experiment",
            "tiny",
            "--wandb",
            "offline",
            "--model.init_args.layer",
            "block1",
            "--data.init_args.crop_size",
            "48",
            "--data.init_args.resize",
            "64",
            "--data.init_args.train_samples_per_epoch",
            "8",
            "--data.init_args.eval_crops",
            "center",
            "--trainer.max_epochs",
            "1",
            "--trainer.enable_progress_bar",
            "false",
        ]
    )
    out = tmp_path / "study"
    result = main(study_args(photos, out, "--optimisation.presets", "[]", "--checkpoints", str(root), "--wandb", "offline"))
    assert result.ran == [("inverter-joint", "block1")]  # its own layer only, not the study's stem
    rows = read_rows(out / "metrics.csv")
    assert [(r["method"], r["layer"]) for r in rows] == [("inverter-joint", "block1")] * 2
    assert all(0 < r["ssim"] <= 1 and r["feature_error"] >= 0 for r in rows)
    config = yaml.safe_load((out / "config.yaml").read_text())
    (train_run,) = (root / "tiny" / "wandb").glob("offline-run-*")
    run_id = train_run.name.rsplit("-", 1)[-1]
    assert config["methods"] == [
        {
            "name": "inverter-joint",
            "kind": "inverter",
            "checkpoint": str(root / "tiny" / "last.ckpt"),
            "experiment": "tiny",
            "mode": "joint",
            "layer": "block1",
            "training_run": str(root / "tiny"),
            "training_wandb_id": run_id,
        }
    ]
    assert {(r["training_run"], r["training_wandb_id"]) for r in rows} == {(str(root / "tiny"), run_id)}
    assert (out / "grids" / "inverter-joint_block1.png").is_file() and "| inverter-joint | 2 |" in (out / "report.md").read_text()

    shutil.copytree(root / "tiny", root / "tiny2")  # two experiments with the same mode and layer
    methods, notes = find_inverter_checkpoints(root, "efficientnet_lite0")
    assert [m.name for m in methods] == ["inverter-joint-tiny", "inverter-joint-tiny2"] and not notes
    assert find_inverter_checkpoints(root, "alexnet")[0] == []

    from tests.wandb_records import logged_history

    (run,) = (out / "wandb").glob("offline-run-*")
    logged = {key.split("/")[0] for row in logged_history(run) for key in row}
    assert {"jobs", "grids", "metrics", "means", "ssim_summary", "reconstructions"} <= logged


def test_learned_priors_join_the_study_at_the_right_layers(photos, tmp_path):
    """An image prior runs at every layer, a feature-map prior only deeper than its own layer."""
    from tests.tiny_checkpoints import dae_prior, patch_prior

    paths = [
        patch_prior(tmp_path / "img" / "last.ckpt"),
        patch_prior(tmp_path / "fmap" / "last.ckpt", net="efficientnet_lite0", layer="stem"),
        dae_prior(tmp_path / "dae" / "last.ckpt"),
    ]
    out = tmp_path / "study"
    result = main(
        study_args(
            photos,
            out,
            "--optimisation.presets",
            as_list("mv2016"),
            "--learned_priors",
            as_list(*paths),
            "--learned_prior_weights",
            "[0.1,0.1,10]",
        )
    )
    jobs = {(r["method"], r["layer"]) for r in result.rows}
    assert {("mv2016+img", layer) for layer in LAYERS} <= jobs and {("mv2016+dae", layer) for layer in LAYERS} <= jobs
    assert ("mv2016+fmap", "block1") in jobs and ("mv2016+fmap", "stem") not in jobs
    assert all(0 <= r["ssim"] <= 1 for r in result.rows)
    with pytest.raises(ValueError, match="one weight per learned prior"):
        main(study_args(photos, tmp_path / "bad", "--learned_priors", as_list(*paths), "--learned_prior_weights", "[0.1]"))


def test_denoise_study_through_evaluate_on_a_folder(photos, tmp_path):
    rows = main(
        [
            "denoise",
            "--images.files",
            as_list(str(photos)),
            "--images.crop_size",
            "48",
            "--sigmas",
            "[25]",
            *out_args(tmp_path / "den"),
            "--progress",
            "false",
            "--wandb",
            "disabled",
        ]
    )
    header, saved = csv_rows(tmp_path / "den" / "denoise.csv")
    assert header[:5] == ["method", "sigma", "image", "psnr", "ssim"]
    assert {r["method"] for r in saved} == {"foe-roth", "tv-chambolle", "nl-means"}
    assert {r["image"] for r in saved} == {"astronaut", "chelsea", "coffee"}
    assert all(15 < float(r["psnr"]) < 60 and 0 < float(r["ssim"]) <= 1 for r in saved) and len(rows) == len(saved) == 9
    report = (tmp_path / "den" / "report.md").read_text()
    assert "| foe-roth |" in report and "σ = 25" in report
    assert yaml.safe_load((tmp_path / "den" / "config.yaml").read_text())["sigmas"] == [25.0]


def test_batch_1_and_batch_8_give_the_same_rows(tmp_path):
    """Per-image noise streams: the rows of a 128² study do not depend on the batch size (at this
    size the CPU kernels round the same at every batch size; the rows are equal to float precision)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, (top, left) in {"astronaut": (0, 100), "coffee": (100, 150), "chelsea": (50, 100)}.items():
        Image.fromarray(getattr(skimage.data, name)()[top : top + 128, left : left + 128]).save(folder / f"{name}.png")
    rows = {}
    for batch in (1, 8):
        args = [
            "inversion",
            "--images.files",
            as_list(str(folder)),
            "--images.crop_size",
            "128",
            "--network.layers",
            "[block2]",
            "--optimisation.presets",
            "[mv2016]",
            "--optimisation.iterations_scale",
            "0.03",
            "--checkpoints",
            "",
            "--wandb",
            "disabled",
            "--progress",
            "false",
            "--grid_images",
            "0",
            "--images.batch_size",
            str(batch),
            *out_args(tmp_path / f"b{batch}"),
        ]
        rows[batch] = {r["image"]: r for r in main(args).rows}
    assert sorted(rows[1]) == ["astronaut", "chelsea", "coffee"]
    for image, row in rows[1].items():
        for column in ("mse", "psnr", "ssim", "feature_error"):
            assert rows[8][image][column] == pytest.approx(row[column], rel=1e-5), (image, column)


def test_images_with_commas_and_tiny_files_through_the_command_line(tmp_path):
    """A file name with a comma is one path; files in a folder too small for the crop are skipped,
    counted and totalled in one line (never upsampled); a named file that is too small is an error."""
    folder = tmp_path / "photos, mine"
    folder.mkdir()
    Image.fromarray(skimage.data.astronaut()[:64, :64]).save(folder / "face,crop.png")
    Image.fromarray(skimage.data.coffee()[:10, :10]).save(folder / "tiny.png")
    Image.fromarray(skimage.data.coffee()[:1, :1]).save(folder / "dot.png")
    (folder / "notes.txt").write_text("not an image")
    common = [
        "--images.crop_size",
        "32",
        "--network.layers",
        "[stem]",
        "--optimisation.presets",
        "[gd-plain]",
        "--optimisation.iterations_scale",
        "0.01",
        "--checkpoints",
        "",
        "--wandb",
        "disabled",
        "--progress",
        "false",
        "--grid_images",
        "0",
    ]
    env = {"WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    named = subprocess.run(
        [
            sys.executable,
            "evaluate.py",
            "inversion",
            "--images.files",
            f'["{folder / "face,crop.png"}"]',
            *common,
            *out_args(tmp_path / "a"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert named.returncode == 0, named.stderr[-2000:]
    assert [r["image"] for r in read_rows(tmp_path / "a" / "metrics.csv")] == ["face,crop"]
    found = subprocess.run(
        [sys.executable, "evaluate.py", "inversion", "--images.files", f'["{folder}"]', *common, *out_args(tmp_path / "b")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert found.returncode == 0, found.stderr[-2000:]
    assert [r["image"] for r in read_rows(tmp_path / "b" / "metrics.csv")] == ["face,crop"]
    assert (
        "images: skipped 2 of 3 image files (2 too small); 1 other files ignored (.txt); see the warnings above"
        in found.stdout.splitlines()
    )
    assert "dot.png" in found.stderr and "tiny.png" in found.stderr
    with pytest.raises(ValueError, match="tiny.png: 10x10 pixels is smaller than the 32-pixel crop.*never enlarged"):
        main(["inversion", "--images.files", f'["{folder / "tiny.png"}"]', *common, *out_args(tmp_path / "c")])


def test_the_evidence_table_counts_images_against_the_thresholds_and_gd_plain():
    from deeprestore.studies.inversion.report import evidence_table

    def row(method, image, fe, ssim):
        return {"method": method, "layer": "stem", "image": image, "feature_error": fe, "ssim": ssim}

    rows = [
        row("mv2016", "a", 0.10, 0.9),
        row("mv2016", "b", 0.20, 0.5),
        row("mv2016", "c", 0.30, 0.7),
        row("gd-plain", "a", 0.40, 0.8),
        row("gd-plain", "b", 0.15, 0.6),
        row("gd-plain", "c", 0.50, 0.1),
    ]
    table = evidence_table(rows, "stem", ["mv2016", "gd-plain"]).splitlines()
    assert (
        table[0]
        == "| method | worst feature error (image) | worst SSIM (image) | feature error ≤ 0.15 | feature error ≤ 0.25 | SSIM > gd-plain's |"
    )
    assert table[2] == "| mv2016 | 0.300 (c) | 0.500 (b) | 33% (1/3) | 67% (2/3) | 67% (2/3) |"
    assert table[3] == "| gd-plain | 0.500 (c) | 0.100 (c) | 33% (1/3) | 33% (1/3) | – |"


def test_names_that_differ_only_in_other_characters_get_files_of_their_own():
    """猫.png and 犬.png once shared plots/layers__.png: one figure was lost."""
    from deeprestore.studies.inversion.report import file_stem

    assert file_stem("block1") == "block1" and file_stem("mv2016-calibrated") == "mv2016-calibrated"  # plain names unchanged
    stems = {file_stem(name) for name in ("猫", "犬", "_", "my photo", "my_photo", "my:photo")}
    assert len(stems) == 6 and all(stem.isascii() for stem in stems)
    assert file_stem("猫") == file_stem("猫")  # stable across runs: a resumed study finds its files
