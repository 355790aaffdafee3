"""Throughput of each optimisation preset (image·iterations per second) against ``mv2016`` in the
same run.

Every preset inverts the same held-out sample photos (repeated to fill the batch) at ``--layer``
through :func:`deeprestore.inversion.invert` — its parameterisation, start, priors, transforms,
ensemble and optimiser included — for ``--iterations`` iterations (its phases scaled to that
budget). The presets run interleaved, ``--repeats`` times; the table gives the median rate and its
ratio to ``mv2016``'s. An ensemble preset (``plugin``) runs the network on each of its copies, so
its iterations cost that many passes.

Run (from the repository root)::

    python benchmarks/preset_throughput.py                                   # CPU, Lite0 block4, 128², batch 8
    python benchmarks/preset_throughput.py --device cuda --size 224 --batch 64
"""

from __future__ import annotations

import argparse
import statistics

import torch

from datamodules import SamplePhotos
from deeprestore.inversion import PRESETS, get_preset, invert
from deeprestore.nets import load_network

from machine import machine_lines, markdown_table, timed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--net", default="efficientnet_lite0")
    p.add_argument("--layer", default="block4")
    p.add_argument(
        "--presets",
        nargs="+",
        default=["mv2016", "gd-plain", "deepinversion", "lucent", "plugin", "mv2016+bn", "mv2016-fourier"],
        help=f"presets to time (of {', '.join(PRESETS)}); mv2016 is always the reference",
    )
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--iterations", type=int, default=40)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    device = torch.device(args.device)
    presets = list(dict.fromkeys(["mv2016", *args.presets]))
    photos = SamplePhotos(crop_size=args.size, resize=2 * args.size, eval_crops="center")
    photos.setup("test")
    base = next(iter(photos.test_dataloader())).to(device)
    images = base.repeat((args.batch + len(base) - 1) // len(base), 1, 1, 1)[: args.batch]
    net = load_network(args.net).to(device)

    def run(name: str) -> None:
        invert(net, images, [args.layer], name, iterations_scale=args.iterations / get_preset(name).iterations, progress=False)

    for name in presets:  # warm-up
        run(name)
    times: dict[str, list[float]] = {name: [] for name in presets}
    for r in range(args.repeats):
        for name in presets if r % 2 == 0 else reversed(presets):
            times[name].append(timed(lambda name=name: run(name), device))
    rate = {name: args.batch * args.iterations / statistics.median(t) for name, t in times.items()}
    rows = [[name, f"{rate[name]:.1f}", f"{rate[name] / rate['mv2016']:.2f}", get_preset(name).ensemble] for name in presets]
    print(markdown_table(["preset", "image·it/s", "× mv2016", "network passes per iteration"], rows))
    print(
        f"\n{args.net} {args.layer}, {args.size}², batch {args.batch}, {args.iterations} iterations, median of {args.repeats} "
        f"interleaved repeats, {device}."
    )
    print("\n".join(machine_lines()))


if __name__ == "__main__":
    main()
