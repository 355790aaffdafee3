"""Images per second of the inversion study: sharded over processes by Lightning's DDP against one
process, and against a bare loop of the same maths, on the same images in the same run.

Three ways over the same ``--images`` real photos (centre crops, ``--crop_size``), one preset at one
layer:

* ``bare loop``: in this process, ``invert`` + ``score`` batch by batch (no Trainer, no files);
* ``study, 1 process``: ``python evaluate.py inversion … --trainer.devices 1`` as a subprocess;
* ``study, N processes``: the same with ``--trainer.devices N --trainer.strategy ddp`` (gloo on a
  CPU, NCCL on GPUs).

The subprocess rows include the interpreter's start-up and the study's files (``startup`` row:
``evaluate.py inversion --print_config``). On a CPU each process gets ``cores / N`` threads, so
sharding can only win what one process leaves idle; on a GPU node each process has its own device.

Run (from the repository root)::

    python benchmarks/sharded_study.py
    python benchmarks/sharded_study.py --images 64 --devices 8 --accelerator gpu --crop_size 224
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from machine import machine_lines, markdown_table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datamodules.evaluation_images import foolbox_imagenet_files, images_from_paths  # noqa: E402
from datamodules.skips import SkipTracker  # noqa: E402
from deeprestore.inversion import invert  # noqa: E402
from deeprestore.nets import load_network  # noqa: E402
from deeprestore.studies.inversion.scoring import score  # noqa: E402


def study_seconds(args: argparse.Namespace, files: list[str], out: Path, devices: int, *extra: str) -> float:
    threads = max(1, (os.cpu_count() or 1) // devices) if args.accelerator == "cpu" else None
    env = {**os.environ, "WANDB_MODE": "disabled", **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    command = [
        sys.executable,
        "evaluate.py",
        "inversion",
        "--images.files",
        *files,
        "--images.crop_size",
        str(args.crop_size),
        "--network.layers",
        args.layer,
        "--optimisation.presets",
        args.preset,
        "--optimisation.iterations_scale",
        str(args.iterations_scale),
        "--checkpoints",
        "",
        "--images.batch_size",
        str(args.batch_size),
        "--grid_images",
        "0",
        "--wandb",
        "disabled",
        "--progress",
        "false",
        "--report_root",
        str(out.parent),
        "--experiment",
        out.name,
        "--trainer.accelerator",
        args.accelerator,
        "--trainer.devices",
        str(devices),
        *extra,
    ]
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=8, help="how many of the held-out ImageNet photos (at most 20)")
    parser.add_argument("--crop_size", type=int, default=128)
    parser.add_argument("--layer", default="block4")
    parser.add_argument("--preset", default="mv2016")
    parser.add_argument("--iterations_scale", type=float, default=1.0)
    parser.add_argument("--batch_size", type=int, default=4)
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--accelerator", default="cpu")
    args = parser.parse_args()
    files = [str(p) for p in foolbox_imagenet_files()[: args.images]]
    device = torch.device("cuda" if args.accelerator in ("gpu", "cuda") else "cpu")
    net = load_network("efficientnet_lite0").to(device)
    data = images_from_paths(files, args.crop_size, SkipTracker())
    start = time.perf_counter()
    for begin in range(0, len(data), args.batch_size):
        batch = torch.stack([data[i]["image"] for i in range(begin, min(begin + args.batch_size, len(data)))]).to(device)
        recon = invert(net, batch, [args.layer], args.preset, iterations_scale=args.iterations_scale, progress=False).images
        score(net, args.layer, batch, recon, [None] * len(batch))
    if device.type == "cuda":
        torch.cuda.synchronize()
    bare = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        startup_start = time.perf_counter()
        subprocess.run([sys.executable, "evaluate.py", "inversion", "--print_config"], cwd=ROOT, check=True, capture_output=True)
        startup = time.perf_counter() - startup_start
        one = study_seconds(args, files, Path(tmp) / "one", 1)
        many = study_seconds(args, files, Path(tmp) / "many", args.devices, "--trainer.strategy", "ddp")
    n = len(data)
    rows = [
        ["bare loop (this process)", f"{bare:.1f}", f"{n / bare:.2f}", "1.00"],
        ["start-up (`evaluate.py inversion --print_config`)", f"{startup:.1f}", "–", "–"],
    ]
    for label, seconds in (("study, 1 process", one), (f"study, {args.devices} processes (ddp)", many)):
        rows.append([label, f"{seconds:.1f}", f"{n / seconds:.2f}", f"{bare / seconds:.2f}"])
        rows.append(
            [
                f"{label}, start-up removed",
                f"{seconds - startup:.1f}",
                f"{n / (seconds - startup):.2f}",
                f"{bare / (seconds - startup):.2f}",
            ]
        )
    print(
        f"{n} images, {args.crop_size}², {args.preset} at {args.layer}, iterations ×{args.iterations_scale}, batch {args.batch_size}, "
        f"accelerator {args.accelerator}\n"
    )
    print(markdown_table(["run", "seconds", "images/s", "speed vs bare loop"], rows))
    print("\n" + "\n".join(machine_lines()))


if __name__ == "__main__":
    main()
