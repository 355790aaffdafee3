"""The studies as a whole: every evaluate config runs, DDP gives the rows of one process, the
held-out set, resume, bf16-mixed and big networks at many layers."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import skimage.data
import torch
import yaml
from PIL import Image

from datamodules.evaluation_images import held_out_images
from deeprestore.studies.cli import main
from tests.study_runs import inversion_command, metrics_rows, study_env
from tests.tiny_checkpoints import dae_prior, generator, patch_prior

ROOT = Path(__file__).resolve().parents[2]
#: every file of configs/evaluate and the study it configures
CONFIG_STUDIES = {
    "default.yaml": "inversion",
    "quick.yaml": "inversion",
    "full.yaml": "inversion",
    "learned_priors.yaml": "inversion",
    "denoise.yaml": "denoise",
    "inverse_problems.yaml": "inverse-problems",
    "lp_inversion.yaml": "lp",
    "calibrate.yaml": "calibrate",
    "networks.yaml": "networks",
    "newer_priors.yaml": "inversion",
    "visualise.yaml": "visualise",
    "faces.yaml": "inverse-problems",
}
#: configs whose smoke run takes two of their layers only (every method at 8 layers would be 80 jobs)
SMOKE_LAYERS = {"newer_priors.yaml": ["stem", "block4"]}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("ckpt")
    return {
        "dae": dae_prior(root / "prior_dae_image" / "last.ckpt"),
        "ica": patch_prior(root / "prior_ica_block1" / "last.ckpt", net="efficientnet_lite0", layer="block1"),
        "foe": patch_prior(root / "prior_foe_grey" / "last.ckpt", grey=True),
        "generator": generator(root / "generator_vae_conv" / "last.ckpt"),
    }


def smoke_overrides(study: str, photos: Path, ckpt: dict[str, str]) -> list[str]:
    """Options that make a config's study run in seconds, with the tiny checkpoints."""
    files = [str(p) for p in sorted(photos.glob("*.png"))[:2]]
    if study == "inversion":
        return [
            "--images.files",
            *files,
            "--images.crop_size",
            "32",
            "--optimisation.iterations_scale",
            "0.005",
            "--checkpoints",
            "",
            "--grid_images",
            "2",
        ]
    if study == "denoise":
        return ["--images.files", *files, "--images.crop_size", "32", "--sigmas", "25", "--priors", ckpt["foe"]]
    if study == "inverse-problems":
        return [
            "--generator",
            ckpt["generator"],
            "--ilo_steps",
            "2",
            "2",
            "1",
            "1",
            "--in_range",
            "0",
            "--measurements",
            "[]",
            "--radius_scales",
            "1",
            "--restarts",
            "1",
        ]
    if study == "calibrate":
        others = [str(p) for p in sorted(photos.glob("*.png"))[2:]]
        return [
            "--tuning_files",
            *files,
            "--images.files",
            *others,
            "--images.crop_size",
            "32",
            "--network.layers",
            "stem",
            "--data_weights",
            "30",
            "300",
            "--prior_finals",
            "1",
            "0",
            "--iterations_scales",
            "0.02",
        ]
    if study == "networks":
        return [
            "--images.files",
            *files,
            "--images.crop_size",
            "32",
            "--optimisation.iterations_scale",
            "0.005",
            "--checkpoints",
            "",
            "--positions",
            "1",
            "5",
        ]
    if study == "visualise":
        return ["--classes", "1", "--optimisation.budget", "3", "--image_size", "32"]
    return [
        "--trials",
        "1",
        "--dimension_trials",
        "1",
        "--latent_dims",
        "3",
        "--expansions",
        "2",
        "--vae_generator",
        ckpt["generator"],
        "--vae_generator_trials",
        "1",
    ]


def test_every_config_of_evaluate_is_listed():
    assert sorted(p.name for p in (ROOT / "configs" / "evaluate").glob("*.yaml")) == sorted(CONFIG_STUDIES)


@pytest.mark.parametrize("config", sorted(CONFIG_STUDIES))
def test_every_evaluate_config_runs_its_study(config, photos, checkpoints, tmp_path):
    study = CONFIG_STUDIES[config]
    extra = {
        "learned_priors.yaml": ["--learned_priors", checkpoints["dae"], checkpoints["ica"]],
        "newer_priors.yaml": ["--learned_priors", checkpoints["ica"], checkpoints["dae"]],
    }.get(config, [])
    if config in SMOKE_LAYERS:
        extra += ["--network.layers", *SMOKE_LAYERS[config]]
    result = main(
        [
            study,
            "--config",
            str(ROOT / "configs" / "evaluate" / config),
            *smoke_overrides(study, photos, checkpoints),
            *extra,
            "--report_root",
            str(tmp_path),
            "--experiment",
            "smoke",
            "--wandb",
            "disabled",
            "--progress",
            "false",
        ]
    )
    folder = tmp_path / "smoke"
    settings = yaml.safe_load((folder / "config.yaml").read_text())
    assert settings["study"] == study and (folder / "report.md").stat().st_size > 200
    if study == "calibrate":
        assert set(result) == {"stem"} and (folder / "tuning.csv").is_file()
        return
    if study == "networks":
        assert sorted({(r["net"], r["layer"], r["position"]) for r in result}) == [
            ("efficientnet_lite0", "block1", 1),
            ("efficientnet_lite0", "block8", 5),
            ("efficientnet_lite1", "block1", 1),
            ("efficientnet_lite1", "block11", 5),
            ("efficientnet_lite2", "block1", 1),
            ("efficientnet_lite2", "block11", 5),
        ]
        assert (folder / "networks.csv").is_file() and (folder / "plots" / "ssim.png").is_file()
        assert (folder / "efficientnet_lite1" / "metrics.csv").is_file()  # each network's own study, resumable
        return
    if study == "visualise":
        assert [(r["preset"], r["class_index"]) for r in result] == [("mv2016", 1), ("deepinversion", 1), ("lucent", 1)]
        return
    rows = result.rows if study == "inversion" else result
    assert rows and all(0 <= float(r["ssim"]) <= 1 for r in rows if "ssim" in r)
    if study == "inversion":
        wanted = SMOKE_LAYERS.get(config) or yaml.safe_load((ROOT / "configs" / "evaluate" / config).read_text())["network"]["layers"]
        assert settings["layers"] == wanted and {r["layer"] for r in rows} == set(wanted)


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


def test_the_held_out_set_is_22_labelled_photos():
    data = held_out_images(64)
    assert len(data) == 22 and len(set(data.names)) == 22 and data.names[:2] == ["chelsea", "coffee"]
    assert data.labels[:3] == [281, 967, 243] and all(isinstance(label, int) and 0 <= label < 1000 for label in data.labels)
    item = data[5]
    assert item["index"] == 5 and item["image"].shape == (3, 64, 64) and 0 <= item["image"].min() and item["image"].max() <= 1


def test_each_subcommand_help_shows_only_its_own_options(capsys):
    from deeprestore.studies.cli import build_parser

    helps = {}
    for study in CONFIG_STUDIES.values():
        with pytest.raises(SystemExit):
            build_parser().parse_args([study, "--help"])
        helps[study] = capsys.readouterr().out
    lp, inversion = helps["lp"], helps["inversion"]
    assert "--widths" in lp and "--noise_levels" in lp and "--seed_everything" in lp and "--wandb_project" in lp
    assert not any(
        option in lp for option in ("--network.layers", "--optimisation.presets", "--sigmas", "--ilo_steps", "--trainer.devices", "study:")
    )
    assert "--trainer.devices" in inversion and "--trials" not in inversion and "--ilo_radii" in helps["inverse-problems"]


def test_a_study_killed_mid_run_resumes_at_job_granularity(photos, tmp_path):
    """SIGKILL as soon as the first job's rows are on disk; the rerun skips that job, runs the rest,
    and ends with the rows of an uninterrupted study."""
    import signal
    import time

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
            "--wandb",
            "disabled",
            "--progress",
            "false",
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


def test_calibration_tunes_on_one_split_and_reports_on_the_other(photos, tmp_path):
    """Two tiny splits, a 2 × 2 grid: with ``--ssim_fraction 0`` the chosen setting has the lowest
    mean tuning feature error (cheapest within the tolerance), and only report-split images are in
    metrics.csv."""
    from deeprestore.studies.calibration.study import choose
    from deeprestore.studies.inversion.methods import TunedPresetMethod

    files = sorted(str(p) for p in photos.glob("*.png"))
    calibration = main(
        [
            "calibrate",
            "--tuning_files",
            *files[:2],
            "--images.files",
            files[2],
            "--images.crop_size",
            "32",
            "--network.layers",
            "stem",
            "--data_weights",
            "30",
            "3000",
            "--prior_finals",
            "1",
            "0",
            "--iterations_scales",
            "0.02",
            "--ssim_fraction",
            "0",
            "--report_root",
            str(tmp_path),
            "--experiment",
            "cal",
            "--wandb",
            "disabled",
            "--progress",
            "false",
        ]
    )
    folder = tmp_path / "cal"
    with (folder / "tuning.csv").open(newline="") as f:
        tuning = list(csv.DictReader(f))
    with (folder / "metrics.csv").open(newline="") as f:
        report = list(csv.DictReader(f))
    assert len(tuning) == 4 * 2 and {r["image"] for r in tuning} == {Path(p).stem for p in files[:2]}
    errors = {}
    for r in tuning:
        errors.setdefault(r["method"], []).append(float(r["feature_error"]))
    best = min(errors, key=lambda m: sum(errors[m]))
    chosen = calibration["stem"]
    assert TunedPresetMethod("stem", chosen["data_weight"], chosen["prior_final"], chosen["iterations_scale"]).name == best
    assert chosen["tuning"]["feature_error"] == pytest.approx(sum(errors[best]) / 2, abs=1e-4)
    assert {r["image"] for r in report} == {Path(files[2]).stem} and {r["method"] for r in report} == {best, "mv2016", "gd-plain"}
    assert yaml.safe_load((folder / "calibration.yaml").read_text())["layers"]["stem"] == chosen
    assert "## Report split, stem" in (folder / "report.md").read_text()
    cheap, dear = TunedPresetMethod("stem", 1.0, 1.0, 1.0), TunedPresetMethod("stem", 1.0, 1.0, 4.0)
    rows = lambda e, s=0.5: [{"feature_error": e, "ssim": s}]  # noqa: E731
    assert choose({cheap: rows(0.105), dear: rows(0.100)}, 0.01) == cheap and choose({cheap: rows(0.2), dear: rows(0.1)}, 0.01) == dear
    faded = TunedPresetMethod("stem", 1.0, 0.0, 1.0)  # the lowest feature error, but half the SSIM: not natural enough
    assert (
        choose({cheap: rows(0.2, 0.8), faded: rows(0.1, 0.4)}, 0.01) == cheap
        and choose({cheap: rows(0.2, 0.8), faded: rows(0.1, 0.4)}, 0.01, 0.0) == faded
    )
    with pytest.raises(ValueError, match="tuning and report images must differ"):
        main(
            [
                "calibrate",
                "--tuning_files",
                files[0],
                "--images.files",
                files[0],
                "--images.crop_size",
                "32",
                "--report_root",
                str(tmp_path),
                "--experiment",
                "bad",
            ]
        )


def test_calibration_plumbing_on_alexnet_with_random_weights(tmp_path):
    """The cluster procedure's path (AlexNet; random weights, plumbing only: no numbers are meaningful)."""
    for split, names in (("t", ("astronaut", "rocket")), ("r", ("coffee",))):
        (tmp_path / split).mkdir()
        for name in names:
            Image.fromarray(getattr(skimage.data, name)()[:64, :64]).save(tmp_path / split / f"{name}.png")
    calibration = main(
        [
            "calibrate",
            "--network.name",
            "alexnet",
            "--network.weights",
            "random",
            "--tuning_files",
            str(tmp_path / "t"),
            "--images.files",
            str(tmp_path / "r"),
            "--images.crop_size",
            "64",
            "--network.layers",
            "relu1",
            "--data_weights",
            "300",
            "--prior_finals",
            "1",
            "0",
            "--iterations_scales",
            "0.01",
            "--report_root",
            str(tmp_path),
            "--experiment",
            "alex",
            "--wandb",
            "disabled",
            "--progress",
            "false",
        ]
    )
    assert set(calibration) == {"relu1"} and calibration["relu1"]["data_weight"] == 300.0
    assert yaml.safe_load((tmp_path / "alex" / "calibration.yaml").read_text())["net"] == "alexnet"


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
            "--wandb",
            "disabled",
            "--progress",
            "false",
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
            "--wandb",
            "disabled",
            "--progress",
            "false",
            "--trainer.accelerator",
            "cpu",
            "--trainer.precision",
            "bf16-mixed",
        ]
    )
    assert len({r["layer"] for r in result.rows}) == len(result.rows) == 8
    assert all(torch.isfinite(torch.tensor(float(r["feature_error"]))) for r in result.rows)


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
            "--wandb",
            "disabled",
            "--progress",
            "false",
            "--trainer.accelerator",
            "cpu",
            "--trainer.precision",
            "bf16-mixed",
        ]
    )
    assert {r["operator"] for r in rows} == set(OPERATOR_NAMES) and len(rows) == len(OPERATOR_NAMES) * 2 * 2
    assert all(math.isfinite(r["mse"]) and math.isfinite(r["measurement_mse"]) for r in rows)
