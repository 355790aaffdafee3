"""The inversion study (``evaluate.py inversion``) on real photo crops: its folder, rows, resume, errors, methods, batches, DDP and precision."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
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
from deeprestore.metrics import high_frequency_ratio
from deeprestore.nets import load_network
from deeprestore.studies.cli import main
from deeprestore.studies.inversion.inverter_checkpoints import find_inverter_checkpoints
from deeprestore.studies.inversion.scoring import COLUMNS, read_rows, score
from tests.study_runs import QUIET, ROOT, as_list, csv_rows, inversion_command, metrics_rows, out_args, study_env
from tests.tiny_checkpoints import dae_prior, patch_prior

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
        *QUIET,
        *out_args(out),
        *extra,
    ]


@pytest.fixture(scope="module")
def study(photos, tmp_path_factory):
    """One study run: ``(out folder, StudyResult)``."""
    out = tmp_path_factory.mktemp("study") / "out"
    return out, main(study_args(photos, out))


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
            "sharpness",
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
        assert (
            float(r["feature_error"]) >= 0
            and float(r["sharpness"]) > 0
            and r["top1_kept"] in ("True", "False")
            and r["diverged"] == "False"
        )
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
                assert row["sharpness"] == pytest.approx(float(high_frequency_ratio(recon[i : i + 1], originals[i : i + 1])), rel=1e-4)
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
        assert "| method | images | MSE | PSNR (dB) | SSIM | feature error | sharpness | top-1 kept | top-1 correct | diverged |" in section
        assert all(f"| {m} | 2 |" in section for m in METHODS)
        assert all(f"(grids/{m}_{layer}.png)" in section for m in METHODS)
        assert (
            "| method | worst feature error (image) | worst SSIM (image) | feature error ≤ 0.15 | feature error ≤ 0.25 | SSIM > gd-plain's |"
            in section
        )
    summary = report.split("## Summary: mean SSIM\n")[1].split("\n## ")[0]
    assert "| layer | mv2016 | gd-plain |" in summary and summary.index("| stem |") < summary.index("| block1 |")
    for metric in ("mse", "psnr", "ssim", "feature_error", "sharpness", "top1_kept"):
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
            *QUIET,
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


def run_study(photos: Path, out: Path, *extra: str) -> list[dict[str, str]]:
    options = ["--images.files", str(photos), "--images.crop_size", "40", "--network.layers", "stem", "block2", "--optimisation.presets", "mv2016", "--optimisation.iterations_scale", "0.02",
               "--images.batch_size", "2", *extra]  # fmt: skip
    done = subprocess.run(inversion_command(out, *options), cwd=ROOT, env=study_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return metrics_rows(out)


def test_two_ddp_processes_give_the_rows_of_one(photos, tmp_path):
    """3 images over 2 gloo processes (shares 2 and 1) through the real Trainer: the same rows as
    one process, each image once."""
    one = run_study(photos, tmp_path / "one")
    two = run_study(photos, tmp_path / "two", "--trainer.devices", "2", "--trainer.strategy", "ddp")
    key = lambda r: (r["method"], r["layer"], r["image"])  # noqa: E731
    assert len(two) == len({key(r) for r in two}) == 2 * 3
    assert sorted(map(key, one)) == sorted(map(key, two))
    by_key = {key(r): r for r in one}
    for row in two:
        for column in ("mse", "psnr", "ssim", "feature_error"):
            assert float(row[column]) == pytest.approx(float(by_key[key(row)][column]), rel=1e-5, abs=1e-7), (key(row), column)
        assert row["top1_kept"] == by_key[key(row)]["top1_kept"]
    saved = torch.load(tmp_path / "two" / "reconstructions" / "mv2016_stem.pt")
    assert saved["images"] == ["astronaut", "chelsea", "coffee"] and saved["reconstructions"].shape == (3, 3, 40, 40)


def test_a_study_killed_mid_run_resumes_at_job_granularity(photos, tmp_path):
    """SIGKILL as soon as the first job's rows are on disk; the rerun skips that job, runs the rest,
    and ends with the rows of an uninterrupted study."""
    import signal

    env = study_env()

    def command(out: Path) -> list[str]:
        return inversion_command(out, "--images.files", str(photos), "--images.crop_size", "32", "--network.layers", "stem", "block4", "--optimisation.presets", "gd-plain",
                                 "mv2016", "--optimisation.iterations_scale", "0.3")  # fmt: skip

    killed = tmp_path / "killed"
    process = subprocess.Popen(command(killed), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    csv_path = killed / "metrics.csv"
    while not csv_path.exists() and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the study ended before it could be killed"
    with csv_path.open(newline="") as f:
        first = list(csv.DictReader(f))
    assert 0 < len(first) < 4 * 3 and len(first) % 3 == 0  # whole jobs only, never a torn file
    resumed = subprocess.run(command(killed), cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"skipped {len(first) // 3} finished job(s)" in resumed.stdout
    whole = tmp_path / "whole"
    subprocess.run(command(whole), cwd=ROOT, env=env, capture_output=True, check=True, timeout=600)
    read = {}
    for name in ("killed", "whole"):
        with (tmp_path / name / "metrics.csv").open(newline="") as f:
            read[name] = {(r["method"], r["layer"], r["image"]): {c: v for c, v in r.items() if c != "seconds"} for r in csv.DictReader(f)}
    assert read["killed"] == read["whole"] and len(read["whole"]) == 4 * 3  # every column but the wall time


# -- at the user's scale: bf16-mixed, big networks, many layers ----------------------------------
def _inversion(photos: Path, out: Path, *extra: str) -> tuple[list[dict], dict]:
    files = [str(p) for p in sorted(photos.glob("*.png"))[:2]]
    result = main(
        [
            "inversion",
            "--images.files",
            *files,
            "--images.crop_size",
            "32",
            "--network.layers",
            "stem",
            "block2",
            "--optimisation.presets",
            "mv2016",
            "--optimisation.iterations_scale",
            "0.02",
            "--checkpoints",
            "",
            "--grid_images",
            "0",
            "--report_root",
            str(out.parent),
            "--experiment",
            out.name,
            *QUIET,
            "--trainer.accelerator",
            "cpu",
            *extra,
        ]
    )
    return result.rows, yaml.safe_load((out / "config.yaml").read_text())


def test_bf16_mixed_runs_only_the_network_pass_in_bf16(photos, tmp_path):
    """Under Lightning's bf16 autocast the numbers are those of a float32 Trainer with the network
    pass in bf16, to the last bit: the targets, priors and scores stay float32."""
    mixed, config = _inversion(photos, tmp_path / "mixed", "--trainer.precision", "bf16-mixed")
    explicit, _ = _inversion(photos, tmp_path / "explicit", "--execution.precision", "bf16")
    plain, _ = _inversion(photos, tmp_path / "plain")
    assert config["precision"] == "bf16-mixed" and config["execution"]["precision"] == "bf16" and config["world_size"] == 1
    columns = ("mse", "psnr", "ssim", "feature_error")
    assert [[r[c] for c in columns] for r in mixed] == [[r[c] for c in columns] for r in explicit]
    assert [[r[c] for c in columns] for r in mixed] != [[r[c] for c in columns] for r in plain]  # bf16 did run


def test_a_study_folder_refuses_another_precision_or_execution(photos, tmp_path):
    _inversion(photos, tmp_path / "run")
    with pytest.raises(ValueError, match="precision: '32-true' before, 'bf16-mixed' now"):
        _inversion(photos, tmp_path / "run", "--trainer.precision", "bf16-mixed")
    with pytest.raises(ValueError, match="execution"):
        _inversion(photos, tmp_path / "run", "--execution.channels_last", "false")
    with pytest.raises(ValueError, match="studies run in 32-true or bf16-mixed"):
        _inversion(photos, tmp_path / "other", "--trainer.precision", "16-mixed")
    config = tmp_path / "run" / "config.yaml"
    settings = yaml.safe_load(config.read_text())
    assert settings["versions"]["torch"] == torch.__version__
    settings["versions"]["torch"] = "2.0.0"  # the folder of a run made with another torch
    config.write_text(yaml.safe_dump(settings))
    with pytest.raises(ValueError, match="versions: .*'2.0.0'.* before"):
        _inversion(photos, tmp_path / "run")


@pytest.mark.parametrize("net", ["torchvision/resnet50", "vgg16"])
def test_eight_layers_of_a_big_random_network_under_bf16_mixed(net, tmp_path):
    """ResNet-50 (batch norm, folded) and VGG16 (138 M parameters) with random weights of their
    real size — plumbing only — through an eight-layer study in bf16-mixed: every layer scored."""
    image, config = tmp_path / "astronaut.png", tmp_path / "big.yaml"
    Image.fromarray(skimage.data.astronaut()[100:132, 150:182]).save(image)
    config.write_text(yaml.safe_dump({"net": net, "weights": "random", "layers": None}))  # the network's own eight layers
    result = main(
        [
            "inversion",
            "--config",
            str(config),
            "--images.files",
            str(image),
            "--images.crop_size",
            "32",
            "--optimisation.presets",
            "mv2016",
            "--optimisation.iterations_scale",
            "0.005",
            "--checkpoints",
            "",
            "--grid_images",
            "0",
            "--report_root",
            str(tmp_path),
            "--experiment",
            "big",
            *QUIET,
            "--trainer.accelerator",
            "cpu",
            "--trainer.precision",
            "bf16-mixed",
        ]
    )
    assert len({r["layer"] for r in result.rows}) == len(result.rows) == 8
    assert all(torch.isfinite(torch.tensor(float(r["feature_error"]))) for r in result.rows)
