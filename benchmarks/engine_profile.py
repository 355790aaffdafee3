"""Where one step of the optimisation engine spends its time: a torch.profiler profile of the
``mv2016`` preset, split into the network's forward and backward, the feature loss, the priors,
the decode + jitter crop, the update, the bound projection and the Python around them.

The engine and the network pass mark their parts with ``record_function`` ranges
(``engine.step``, ``engine.decode``, ``engine.data_term``, ``engine.priors``,
``engine.projection``, ``network.forward``); the backward is the autograd engine's
``evaluate_function`` events; the update is what ``engine.step`` holds besides those; the rest of
an iteration (history, divergence checks, progress) is "bookkeeping".

Run (from the repository root)::

    python benchmarks/engine_profile.py                                  # Lite0 block4, 128², batch 8
    python benchmarks/engine_profile.py --channels-last false --top 15
    python benchmarks/engine_profile.py --device cuda --batch 64 --size 224 --layer block8 --bf16
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import torch
from torch.profiler import ProfilerActivity, profile, record_function

from datamodules import SamplePhotos
from deeprestore.inversion import Execution, invert
from deeprestore.nets import load_network

from machine import machine_lines, markdown_table

PARTS = ("network.forward", "engine.data_term", "engine.priors", "engine.decode", "engine.step", "engine.projection")


def batch_of(n: int, size: int, device: torch.device) -> torch.Tensor:
    """``n`` held-out sample photos (repeated as needed), ``n×3×size×size``."""
    photos = SamplePhotos(crop_size=size, resize=2 * size, eval_crops="center")
    photos.setup("test")
    base = next(iter(photos.test_dataloader()))
    return base.repeat((n + len(base) - 1) // len(base), 1, 1, 1)[:n].to(device)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--net", default="efficientnet_lite0")
    p.add_argument("--weights", default="pretrained")
    p.add_argument("--layer", default="block4")
    p.add_argument("--preset", default="mv2016")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--iterations", type=int, default=30)
    p.add_argument("--channels-last", choices=["auto", "true", "false"], default="auto")
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--device", default="cpu")
    p.add_argument("--top", type=int, default=12, help="operators listed by self time")
    args = p.parse_args()
    device = torch.device(args.device)
    net = load_network(args.net, args.weights).to(device)
    images = batch_of(args.batch, args.size, device)
    channels_last = {"auto": "auto", "true": True, "false": False}[args.channels_last]
    execution = Execution(channels_last=channels_last, precision="bf16" if args.bf16 else "32", compile=False)
    from deeprestore.inversion import get_preset

    scale = args.iterations / get_preset(args.preset).iterations

    def run() -> None:
        invert(net, images, [args.layer], args.preset, iterations_scale=scale, progress=False, execution=execution)

    run()  # warm-up
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        with record_function("benchmark.run"):
            started = time.perf_counter()
            run()
            wall = time.perf_counter() - started
    totals: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for event in prof.events():
        if event.name in PARTS or event.name == "benchmark.run":
            totals[event.name] += event.cpu_time_total / 1e3
            counts[event.name] += 1
        elif event.name.startswith("autograd::engine::evaluate_function"):
            totals["backward"] += event.cpu_time_total / 1e3
    steps = counts["engine.step"] or 1
    per = {k: v / steps for k, v in totals.items()}
    forward = per["network.forward"]
    parts = {
        "network forward": forward,
        "feature loss (data term − network)": per["engine.data_term"] - forward,
        "priors": per["engine.priors"],
        "decode + jitter crop": per["engine.decode"],
        "backward (all terms)": per["backward"],
        "update (optimiser)": per["engine.step"] - per["engine.data_term"] - per["engine.priors"] - per["engine.decode"] - per["backward"],
        "bound projection": per["engine.projection"],
    }
    iteration = per["engine.step"] + per["engine.projection"]
    setup_and_loop = per["benchmark.run"]
    parts["bookkeeping, Python, set-up (rest of the run / steps)"] = setup_and_loop - iteration
    rows = [[name, f"{ms:.2f}", f"{100 * ms / setup_and_loop:.1f}"] for name, ms in parts.items()]
    rows.append(["**one iteration, all in**", f"**{setup_and_loop:.2f}**", "100"])
    print(
        f"{args.net} → {args.layer}, {args.preset}, {args.size}², batch {args.batch}, {steps} steps, "
        f"{execution.describe(net, device)}; {args.batch * steps / wall:.1f} image·it/s under the profiler\n"
    )
    print(markdown_table(["part of a step", "ms per step", "%"], rows))
    print()
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top, max_name_column_width=48)
    print("```\n" + table + "```")
    print("\n".join(machine_lines()))


if __name__ == "__main__":
    main()
