"""User errors at the command line are one line on stderr and exit status 2, never a traceback:
train.py and evaluate.py through their real command lines (subprocesses)."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from deeprestore.cli_errors import one_line

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, args: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = os.environ | {"WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    env.pop("DEEPRESTORE_TRACEBACK", None)
    return subprocess.run([sys.executable, str(ROOT / script), *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def run_all(script: str, commands: list[list[str]]) -> list[subprocess.CompletedProcess]:
    """The commands as concurrent processes (importing Lightning alone takes seconds; most of a
    failing command's time), one per core."""
    with ThreadPoolExecutor(max_workers=max(os.cpu_count() or 1, 2)) as pool:
        return list(pool.map(lambda args: run(script, args), commands))


def assert_one_line_error(done: subprocess.CompletedProcess, prog: str, *fragments: str) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith(f"{prog}: error:"), done.stderr[-2000:]  # every stderr line counted
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    (folder / "garbage.ckpt").write_bytes(b"not a checkpoint")
    (folder / "weights.pth").write_bytes(b"not weights either")
    torch.save({"conv.weight": torch.zeros(3, 3)}, folder / "other_net.pth")
    (folder / "a_file").write_text("x")
    (folder / "empty").mkdir()
    return {p.name: p for p in folder.iterdir()}


TRAIN_ERRORS = [
    (["--model.init_args.mode", "sideways"], ["mode must be one of", "'sideways'", "joint"]),
    (["--model.init_args.layer", "nosuchlayer"], ["unknown layer 'nosuchlayer'", "valid layers: stem"]),
    (["--model.init_args.net", "nosuchnet"], ["unknown network 'nosuchnet'", "efficientnet_lite0"]),
    (["--model.init_args.weights", "/nonexistent.pth"], ["/nonexistent.pth does not exist"]),
    (["--data.init_args.crop_size", "0"], ["crop_size must be positive, got 0"]),
    (["--data.init_args.batch_size", "0"], ["batch_size must be positive, got 0"]),
    (["--wandb", "sideways"], ["--wandb", "'offline', 'online', 'disabled'", "sideways"]),
    (["--trainer.max_epochs", "abc"], ["--trainer.max_epochs", "abc"]),
    (["--trainer.accelerator", "sideways"], ["accelerator", "sideways"]),
    (["--ckpt_path", "/nonexistent.ckpt"], ["--ckpt_path /nonexistent.ckpt: no such checkpoint file"]),
    (["--nosuchoption", "1"], ["unrecognized arguments: --nosuchoption"]),
    (["--model", "nosuch.Module"], ["--model", "No module named 'nosuch'"]),
    (["--config", "/nonexistent.yaml"], ["--config", "/nonexistent.yaml"]),
    (["test", "--ckpt_path", "/nonexistent.ckpt"], ["no such checkpoint file"]),
    (["--experiment", "../outside"], ["--experiment '../outside'", "must stay under"]),
    (["--experiment", "/tmp/absolute"], ["--experiment '/tmp/absolute'", "not an absolute path"]),
]


@pytest.fixture(scope="module")
def train_errors() -> dict[str, subprocess.CompletedProcess]:
    return dict(zip((" ".join(a) for a, _ in TRAIN_ERRORS), run_all("train.py", [a for a, _ in TRAIN_ERRORS])))


@pytest.mark.parametrize(("args", "fragments"), TRAIN_ERRORS, ids=[" ".join(a) for a, _ in TRAIN_ERRORS])
def test_train_user_errors_are_one_line(args, fragments, train_errors):
    assert_one_line_error(train_errors[" ".join(args)], "train.py", *fragments)


def test_train_file_errors_are_one_line(files):
    garbage, weights, other, folder_file, empty = run_all(
        "train.py",
        [
            ["--ckpt_path", str(files["garbage.ckpt"])],
            ["--model.init_args.weights", str(files["weights.pth"])],
            ["--model.init_args.weights", str(files["other_net.pth"])],
            ["--checkpoint_root", str(files["a_file"])],
            ["--data", "datamodules.ImageFolder", "--data.init_args.train", str(files["empty"])],
        ],
    )
    assert_one_line_error(garbage, "train.py", "not a readable checkpoint")
    assert_one_line_error(weights, "train.py", "is not a readable state dict")
    assert_one_line_error(other, "train.py", "does not fit efficientnet_lite0", "weights missing")
    assert_one_line_error(folder_file, "train.py", f"{files['a_file']}", "is a file")
    assert_one_line_error(empty, "train.py", "holds no image files")


def test_a_checkpoint_of_another_model_is_refused_before_training(tmp_path):
    """A block1 inverter's checkpoint does not fit a block2 model: one line, before anything trains."""
    tiny = [
        "--data.init_args.crop_size",
        "64",
        "--data.init_args.resize",
        "96",
        "--data.init_args.train_samples_per_epoch",
        "8",
        "--model.init_args.grid_images",
        "0",
        "--trainer.max_epochs",
        "1",
        "--trainer.enable_progress_bar",
        "false",
        "--wandb",
        "disabled",
        "--checkpoint_root",
        str(tmp_path),
    ]
    done = run("train.py", ["fit", *tiny, "--model.init_args.layer", "block1", "--experiment", "b1"])
    assert done.returncode == 0, done.stderr[-2000:]
    ckpt = tmp_path / "b1" / "last.ckpt"
    line = assert_one_line_error(
        run("train.py", [*tiny, "--model.init_args.layer", "block2", "--experiment", "b2", "--ckpt_path", str(ckpt)]),
        "train.py",
        "does not fit the model of this config",
    )
    assert "weights missing" in line or "another shape" in line
    assert not (tmp_path / "b2" / "last.ckpt").exists()


EVALUATE_ERRORS = [
    (["--trainer.accelerator", "sideways"], ["sideways", "cpu"]),
    (["--images.batch_size", "abc"], ["--images.batch_size", "abc"]),
    (["--images.batch_size", "0"], ["--images.batch_size must be positive"]),
    (["--network.layers", "nosuchlayer"], ["unknown layer 'nosuchlayer'"]),
    (["--optimisation.presets", "nosuch"], ["nosuch"]),
    (["--images.files", "/nonexistent/a,b.jpg"], ["image path does not exist: /nonexistent/a,b.jpg"]),
    (["--nosuch"], ["unrecognized arguments: --nosuch"]),
    (["linear-inverse", "--radii", "[-1]"], ["--radii must be non-negative"]),
    (["linear-inverse", "--cases", '[{"size": 40}]', "--max_dimension", "4000"], ["features 19200", "≤ --max_dimension 4000"]),
    (
        ["feature-vae", "--vae", "/nonexistent/vae.ckpt"],
        ["--vae /nonexistent/vae.ckpt: no such file", "configs/generators/vae_block3.yaml"],
    ),
    (["feature-vae", "--vae", "README.md", "--samples", "0"], ["--samples must be positive, got 0"]),
    (["texture", "--network.layers", "stem"], ["--network.layers ['stem']", "takes its layers from --measures"]),
]


@pytest.fixture(scope="module")
def evaluate_errors(tmp_path_factory) -> tuple[Path, dict[str, subprocess.CompletedProcess]]:
    out = tmp_path_factory.mktemp("evaluate") / "out"
    commands = [[*a, "--report_root", str(out.parent), "--experiment", out.name, "--wandb", "disabled"] for a, _ in EVALUATE_ERRORS]
    return out, dict(zip((" ".join(a) for a, _ in EVALUATE_ERRORS), run_all("evaluate.py", commands)))


@pytest.mark.parametrize(("args", "fragments"), EVALUATE_ERRORS, ids=[" ".join(a) for a, _ in EVALUATE_ERRORS])
def test_evaluate_user_errors_are_one_line(args, fragments, evaluate_errors):
    out, results = evaluate_errors
    assert_one_line_error(results[" ".join(args)], "evaluate.py", *fragments)
    assert not out.exists()  # refused before anything was written


def test_evaluate_refuses_a_run_name_outside_the_report_root(tmp_path):
    root = tmp_path / "reports"
    climbing, absolute = run_all(
        "evaluate.py",
        [
            ["--report_root", str(root), "--experiment", "../outside", "--wandb", "disabled"],
            ["--report_root", str(root), "--experiment", str(tmp_path / "abs"), "--wandb", "disabled"],
        ],
    )
    assert_one_line_error(climbing, "evaluate.py", "--experiment '../outside'", "must stay under")
    assert_one_line_error(absolute, "evaluate.py", "not an absolute path")
    assert not (tmp_path / "outside").exists() and not (tmp_path / "abs").exists()


def test_evaluate_file_errors_are_one_line(files, tmp_path):
    folder_file, prior, generator = run_all(
        "evaluate.py",
        [
            ["--report_root", str(files["a_file"].parent), "--experiment", files["a_file"].name],
            ["--learned_priors", str(files["garbage.ckpt"]), "--report_root", str(tmp_path), "--experiment", "o"],
            ["inverse-problems", "--generator", str(files["garbage.ckpt"]), "--report_root", str(tmp_path), "--experiment", "o"],
        ],
    )
    assert_one_line_error(folder_file, "evaluate.py", "is a file, not a folder")
    assert_one_line_error(prior, "evaluate.py", "--learned_priors", "not a readable checkpoint")
    assert_one_line_error(generator, "evaluate.py", "--generator", "not a readable checkpoint")


def test_one_line_follows_jsonargparse_wrappers_to_the_cause():
    try:
        try:
            raise ValueError("mode must be one of ('a', 'b'), got 'c'")
        except ValueError as inner:
            raise ValueError(
                "Does not validate against any of the Union subtypes\nSubtypes: [...]\nErrors:\n  - mode must …\n"
                "Given value: Namespace(class_path='pkg.Model', init_args=Namespace(mode='c'))"
            ) from inner
    except ValueError as error:
        assert one_line(error) == "pkg.Model: mode must be one of ('a', 'b'), got 'c'"
    try:
        try:
            raise OSError(20, "Not a directory")
        except OSError as inner:
            raise ValueError("--out x: cannot create the folder (Not a directory)") from inner
    except ValueError as error:
        assert one_line(error) == "--out x: cannot create the folder (Not a directory)"  # our message, not its cause


def test_a_normal_run_prints_nothing_on_stderr(tmp_path):
    """Lightning's information lines go to stdout and the warnings every run would give are
    expected ones: stderr is for what went wrong."""
    train = run(
        "train.py",
        [
            "--data.init_args.crop_size",
            "64",
            "--data.init_args.resize",
            "96",
            "--data.init_args.train_samples_per_epoch",
            "16",
            "--data.init_args.eval_crops",
            "center",
            "--model.init_args.layer",
            "block1",
            "--model.init_args.grid_images",
            "0",
            "--trainer.max_epochs",
            "1",
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.log_every_n_steps",
            "1",
            "--checkpoint_root",
            str(tmp_path),
            "--wandb",
            "disabled",
        ],
    )
    assert train.returncode == 0 and train.stderr == "", train.stderr[-2000:]
    assert "GPU available" in train.stdout and "held-out SSIM" in train.stdout
