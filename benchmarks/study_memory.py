"""Peak memory of the inversion study against its number of layers, for a small and two large networks.

A study at eight layers must need no more memory than one at its deepest layer: nothing of an
earlier layer's job may stay behind (the network-pass cache once kept a folded copy of the network
per layer, and the copies were copied into each other: 255 copies of Lite0 at eight layers).

For each network (EfficientNet-Lite0 with its real weights; torchvision's ResNet-50 and the
zoo's VGG16 with **random weights of their real size**, 25.6 M and 138 M parameters — plumbing and
memory only, the numbers mean nothing), one child process runs ``evaluate.py inversion`` at the
network's eight default layers, and one at the deepest of them alone: 2 photo crops at
``--crop``², ``mv2016`` at ``--iterations-scale``, no W&B. Peak memory is the child's
``ru_maxrss`` (``os.wait4``) and, on CUDA, ``torch.cuda.max_memory_allocated``.

Run (from the repository root)::

    python benchmarks/study_memory.py                       # CPU, the three networks (~5 min on 2 cores)
    python benchmarks/study_memory.py --device cuda --nets efficientnet_lite0
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from machine import machine_lines, markdown_table
from peak_memory import run_child

#: network → its weights here (random: the user's files are not on this machine)
NETWORKS = {"efficientnet_lite0": "pretrained", "torchvision/resnet50": "random", "vgg16": "random"}

CHILD = """
import json, runpy, sys
stats_path = sys.argv[1]
sys.argv = ["evaluate.py", *sys.argv[2:]]
try:
    runpy.run_path("evaluate.py", run_name="__main__")
except SystemExit as done:
    if done.code not in (0, None):
        raise
import torch
stats = {}
if torch.cuda.is_initialized():
    torch.cuda.synchronize()
    stats["cuda_max_allocated"] = torch.cuda.max_memory_allocated()
with open(stats_path, "w") as f:
    json.dump(stats, f)
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--nets", nargs="+", default=list(NETWORKS), help="networks (weights: pretrained for Lite0, random otherwise)")
    p.add_argument("--device", default="cpu", help="--trainer.accelerator of the studies")
    p.add_argument("--crop", type=int, default=64, help="image side")
    p.add_argument("--iterations-scale", type=float, default=0.01, help="mv2016's iterations × this (0.01: 4)")
    p.add_argument("--precision", default="32-true", help="--trainer.precision of the studies")
    p.add_argument("--limit", type=float, default=0.15, help="largest allowed growth of the eight-layer peak over the one-layer peak")
    return p.parse_args(argv)


def eight_layers(net_name: str, weights: str) -> list[str]:
    from deeprestore.nets import load_network
    from deeprestore.studies.inversion.study import InversionStudy
    from deeprestore.studies.option_groups import NetworkOptions

    return InversionStudy(network=NetworkOptions(net_name, weights)).resolve_layers(load_network(net_name, weights=weights))


def write_photos(folder: Path, size: int) -> Path:
    import skimage.data
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for name in ("astronaut", "coffee"):
        image = getattr(skimage.data, name)()
        Image.fromarray(image[100 : 100 + size, 150 : 150 + size]).save(folder / f"{name}.png")
    return folder


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows, worst = [], 0.0
    with tempfile.TemporaryDirectory(prefix="study_memory_") as tmp:
        tmp_dir = Path(tmp)
        photos = write_photos(tmp_dir / "photos", args.crop)
        for net_name in args.nets:
            weights = NETWORKS.get(net_name, "random")
            layers = eight_layers(net_name, weights)
            peaks = {}
            for label, chosen in (("1 (deepest)", layers[-1:]), (str(len(layers)), layers)):
                name = f"{net_name.replace('/', '_')}_{len(chosen)}"
                study = [
                    "inversion",
                    "--network.name",
                    net_name,
                    "--network.weights",
                    weights,
                    "--network.layers",
                    *chosen,
                    "--images.files",
                    str(photos),
                    "--images.crop_size",
                    str(args.crop),
                    "--optimisation.presets",
                    "mv2016",
                    "--optimisation.iterations_scale",
                    str(args.iterations_scale),
                    "--checkpoints",
                    "",
                    "--images.batch_size",
                    "2",
                    "--wandb",
                    "disabled",
                    "--progress",
                    "false",
                    "--report_root",
                    str(tmp_dir / "reports"),
                    "--experiment",
                    name,
                    "--trainer.accelerator",
                    args.device,
                    "--trainer.precision",
                    args.precision,
                ]
                print(f"running: {net_name} at {len(chosen)} layer(s) ...", flush=True)
                peak, seconds, code = run_child(
                    [sys.executable, "-c", CHILD, str(tmp_dir / f"{name}.json"), *study], tmp_dir / f"{name}.log"
                )
                if code != 0:
                    print((tmp_dir / f"{name}.log").read_text()[-4000:], file=sys.stderr)
                    raise SystemExit(f"{net_name} at {len(chosen)} layer(s) failed with exit code {code} (output above)")
                stats_file = tmp_dir / f"{name}.json"
                stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
                cuda = stats.get("cuda_max_allocated")
                peaks[label] = (peak, cuda)
                rows.append([f"`{net_name}` ({weights})", label, f"{peak:.0f}", f"{cuda / 2**20:.0f}" if cuda else "–", f"{seconds:.1f}"])
            (one, one_cuda), (many, many_cuda) = peaks.values()
            growth = many / one - 1 if not (one_cuda and many_cuda) else max(many / one - 1, many_cuda / one_cuda - 1)
            worst = max(worst, growth)
            rows[-1].append(f"{growth:+.1%}")
            rows[-2].append("")
    print()
    print(
        markdown_table(
            ["network", "layers", "peak RSS (MiB)", "torch.cuda.max_memory_allocated (MiB)", "wall (s)", "growth over one layer"], rows
        )
    )
    print()
    print(
        f"Each row one `evaluate.py inversion` process: 2 crops of {args.crop}², mv2016 × {args.iterations_scale}, "
        f"--trainer.precision {args.precision} on {args.device}. Worst growth {worst:+.1%} (limit {args.limit:+.0%})."
    )
    print()
    print("\n".join(machine_lines()))
    return 0 if worst <= args.limit else 1


if __name__ == "__main__":
    raise SystemExit(main())
