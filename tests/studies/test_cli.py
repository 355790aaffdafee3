"""``evaluate.py``'s command line: the subcommands, every shipped config, the embedded default, paths with commas."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import skimage.data
import yaml
from PIL import Image

from deeprestore.studies.cli import build_parser, main, make_study, with_default_study
from deeprestore.studies.inversion.scoring import read_rows
from deeprestore.studies.inversion.study import InversionStudy
from tests.study_runs import QUIET, ROOT, out_args


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
        *QUIET,
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
    "linear_inverse.yaml": "linear-inverse",
    "linear_inverse_alexnet_vgg16.yaml": "linear-inverse",
    "sample.yaml": "sample",
    "feature_vae.yaml": "feature-vae",
    "texture.yaml": "texture",
    "thesis_ica.yaml": "inversion",
    "leaderboard.yaml": "inversion",
}


#: configs whose smoke run takes two of their layers only (every method at 8 layers would be 80 jobs)
SMOKE_LAYERS = {"newer_priors.yaml": ["stem", "block4"], "leaderboard.yaml": ["block1"]}


def smoke_overrides(study: str, photos: Path, ckpt: dict[str, str]) -> list[str]:
    """Options that make a config's study run in seconds, with the tiny checkpoints."""
    files = [str(p) for p in sorted(photos.glob("*.png"))[:2]]
    inversion = ["--images.files", *files, "--images.crop_size", "32", "--optimisation.iterations_scale", "0.005", "--checkpoints", ""]
    if study == "inversion":
        return [*inversion, "--grid_images", "2"]
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
            *inversion,
            "--positions",
            "1",
            "5",
        ]
    if study == "visualise":
        return ["--classes", "1", "--optimisation.budget", "3", "--canvas.size", "32"]
    if study == "sample":
        return ["--steps", "3", "--record_every", "0", "--chains", "2", "--canvas.size", "16", "--verifiers.names", "[efficientnet_lite1]"]
    if study == "texture":
        return ["--images.crop_size", "32", "--optimisation.iterations_scale", "0.02", "--verifiers.names", "[efficientnet_lite1]"]
    if study == "feature-vae":
        tiny = ["--vae", ckpt["vae_block2"], "--inverter.checkpoint", ckpt["inverter"], "--samples", "2", "--canvas.size", "32"]
        return [*tiny, "--optimisation.iterations_scale", "0.01", "--verifiers.names", "[efficientnet_lite1]"]
    if study == "linear-inverse":
        return ["--train_patches", "200", "--test_patches", "20", "--radii", "[1]", "--relative_noise", "[0.01]", "--photo_crop", "32"]
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


def smoke_cases(config: str) -> list[dict]:
    """A linear-inverse config's cases at sizes of 8 at most, with random weights for the user's networks
    (AlexNet and VGG16 here: plumbing only)."""
    cases = yaml.safe_load((ROOT / "configs" / "evaluate" / config).read_text())["cases"]
    return [
        {**case, "size": min(case.get("size", 16), 8), **({"weights": "random"} if case.get("network") in ("alexnet", "vgg16") else {})}
        for case in cases
    ]


def smoke_configurations(config: str, ckpt: dict[str, str]) -> list[dict]:
    """A sampling config's configurations with the tiny checkpoints in place of the trained priors
    (the grey FoE stands in for the colour image ICA prior), noise levels and inverter (the block3 DAE
    and inverter: the tiny block2 ones)."""
    tiny = {
        "prior_ica_image": ckpt["foe"],
        "prior_ica_block1": ckpt["ica"],
        "prior_dae_image": ckpt["dae"],
        "prior_dae_block3": ckpt["dae_block2"],
    }
    tiny |= {f"prior_dae_image_sigma{s}": ckpt[f"dae_sigma{s}"] for s in ("0.3", "0.03")}
    configurations = yaml.safe_load((ROOT / "configs" / "evaluate" / config).read_text())["configurations"]
    inverter = {"inverter": {"checkpoint": ckpt["inverter"]}}
    return [
        {**c, "priors": [{**p, "checkpoint": tiny[Path(p["checkpoint"]).parent.name]} for p in c.get("priors", [])]}
        | {"annealed_daes": [tiny[Path(n).parent.name] for n in c.get("annealed_daes", [])]}
        | (inverter if c.get("inverter") else {})
        for c in configurations
    ]


def test_every_config_of_evaluate_is_listed():
    assert sorted(p.name for p in (ROOT / "configs" / "evaluate").glob("*.yaml")) == sorted(CONFIG_STUDIES)


@pytest.mark.parametrize("config", sorted(CONFIG_STUDIES))
def test_every_evaluate_config_runs_its_study(config, photos, checkpoints, tmp_path):
    study = CONFIG_STUDIES[config]
    extra = {
        "learned_priors.yaml": ["--learned_priors", checkpoints["dae"], checkpoints["ica"]],
        "newer_priors.yaml": ["--learned_priors", checkpoints["ica"], checkpoints["dae"]],
        "thesis_ica.yaml": ["--learned_priors", checkpoints["foe"]],
        # the page goes to the test's folder, not docs/
        "leaderboard.yaml": ["--learned_priors", checkpoints["ica"], checkpoints["dae"], "--leaderboard", str(tmp_path / "leaderboard.md")],
    }.get(config, [])
    if study == "linear-inverse":
        extra += ["--cases", json.dumps(smoke_cases(config))]
    if study == "sample":
        extra += ["--configurations", json.dumps(smoke_configurations(config, checkpoints))]
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
            *QUIET,
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
    if study == "texture":
        assert len(result) == 2 * len(yaml.safe_load((ROOT / "configs" / "evaluate" / config).read_text())["measures"])
        return
    if study == "feature-vae":
        assert {(r["source"], r["decoder"]) for r in result} >= {("photo", "none"), ("vae sample", "inverter"), ("vae sample", "mv2016")}
        return
    if study == "sample":
        assert {r["configuration"] for r in result} == {c["name"] for c in smoke_configurations(config, checkpoints)}
        return
    if study == "linear-inverse":
        assert len(settings["case_labels"]) == len(smoke_cases(config)) and {r["case"] for r in result} == set(settings["case_labels"])
        return
    rows = result.rows if study == "inversion" else result
    assert rows and all(0 <= float(r["ssim"]) <= 1 for r in rows if "ssim" in r)
    if study == "inversion":
        wanted = SMOKE_LAYERS.get(config) or yaml.safe_load((ROOT / "configs" / "evaluate" / config).read_text())["network"]["layers"]
        assert settings["layers"] == wanted and {r["layer"] for r in rows} == set(wanted)
    if config == "leaderboard.yaml":  # every preset and the image prior on the page, judged by two verifiers
        page = (tmp_path / "leaderboard.md").read_text()
        presets = yaml.safe_load((ROOT / "configs" / "evaluate" / config).read_text())["optimisation"]["presets"]
        assert all(f"| {p} | 2 |" in page for p in presets) and "| mv2016+prior_dae_image | 2 |" in page  # ICA: deeper layers only
        assert "efficientnet_lite1, efficientnet_lite2" in page


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
