"""Throughput of the optimisation engine (image·iterations per second) against a bare PyTorch loop
doing the same maths, in the same run, and how it scales with the batch size.

Both sides minimise the ``mv2016`` energy — normalised feature loss at ``--layer`` (C = 300),
bounded range N₆ and TV² priors, the M&V 2016 momentum-RMSprop update, the bound projection after
every step — on the held-out sample photos (repeated to fill the batch), without jitter so both do
exactly the same work. The engine is :func:`deeprestore.inversion.minimise` (with its divergence
bookkeeping and history); the bare loop is written out below with plain tensors.

Run (from the repository root)::

    python benchmarks/inversion_throughput.py                       # CPU, batches 1 2 4 8
    python benchmarks/inversion_throughput.py --device cuda --batch-sizes 8 64 --size 224 --bf16
    python benchmarks/inversion_throughput.py --size 224 --batch-sizes 8 --iterations 10 --repeats 2 \
        --nets efficientnet_lite0 efficientnet_lite1 efficientnet_lite2 torchvision/resnet50 \
        --layers block4 block5 block5 layer2 --weights pretrained pretrained pretrained random
"""

from __future__ import annotations

import argparse
import statistics

import torch

from datamodules import SamplePhotos
from deeprestore.inversion import NormalisedFeatureLoss, Phase, minimise, mv_noise, stepper_factory
from deeprestore.inversion.seeds import index_seeds
from deeprestore.nets import load_network
from deeprestore.priors import BoundedRange, TotalVariation
from deeprestore.priors.units import from_mv_units, to_mv_units
from machine import machine_lines, markdown_table, timed


def bare_loop(data, priors, init: torch.Tensor, iterations: int, lr: float, momentum: float = 0.9) -> torch.Tensor:
    """The same maths as the engine's ``mv2016`` phase, with nothing else."""
    x = to_mv_units(init).requires_grad_(True)
    squares, velocity = torch.zeros_like(x), torch.zeros_like(x)
    inv_lr = 1.0 / (init.shape[-2] * init.shape[-1] * lr)
    for _ in range(iterations):
        images = from_mv_units(x)
        energy = data(images) + sum(w * p(images) for p, w in priors)
        x.grad = None
        energy.sum().backward()
        with torch.no_grad():
            squares.mul_(momentum).add_(x.grad * x.grad)
            velocity.mul_(momentum).sub_(x.grad / (inv_lr + squares.sqrt()))
            x.add_(velocity)
            x.copy_(to_mv_units(priors[0][0].project(from_mv_units(x))))
    return from_mv_units(x.detach())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nets", nargs="+", default=["efficientnet_lite0"], help="networks (load_network names)")
    p.add_argument("--layers", nargs="+", default=["block4"], help="one target layer per network")
    p.add_argument("--weights", nargs="+", default=None, help="one weights value per network (default: pretrained)")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--iterations", type=int, default=30)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--bf16", action="store_true", help="run the network under bf16 autocast (GPU)")
    args = p.parse_args()
    device = torch.device(args.device)
    weights = args.weights or ["pretrained"] * len(args.nets)
    if not len(args.nets) == len(args.layers) == len(weights):
        p.error("--nets, --layers and --weights need one value per network")
    photos = SamplePhotos(crop_size=args.size, resize=2 * args.size, eval_crops="center")
    photos.setup("test")
    base = next(iter(photos.test_dataloader())).to(device)
    priors = [(BoundedRange(alpha=6.0), 1.0), (TotalVariation(beta=2.0), 1.0)]
    lr = 0.05 * 80**2 / 6
    rows = []
    for name, layer, source in zip(args.nets, args.layers, weights):
        net = load_network(name, source).to(device)
        rows += [[f"{name} {layer} ({source})", *row] for row in throughput_rows(net, layer, base, priors, lr, args, device)]
    print(markdown_table(["network, layer (weights)", "batch", "engine image·it/s", "bare loop image·it/s", "ratio", "≥ 0.95×"], rows))
    print(f"\n{args.size}², {args.iterations} iterations, median of {args.repeats} interleaved repeats, {device}{', bf16' if args.bf16 else ''}.")
    print("\n".join(machine_lines()))


def throughput_rows(net, layer: str, base: torch.Tensor, priors, lr: float, args, device: torch.device) -> list[list[str]]:
    """One row per batch size: engine and bare-loop image·iterations/s and their ratio."""
    rows = []
    for n in args.batch_sizes:
        images = base.repeat((n + len(base) - 1) // len(base), 1, 1, 1)[:n]
        data = NormalisedFeatureLoss.from_images(net, {layer: 300.0}, images)
        init = mv_noise(images.shape, index_seeds(len(images), 0), device)
        autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16)

        def engine() -> None:
            with autocast:
                minimise(data, init, stepper_factory("mv2016"), [Phase(args.iterations, lr, 1)], priors=priors, progress=False)

        def bare() -> None:
            with autocast:
                bare_loop(data, priors, init, args.iterations, lr)

        engine(), bare()  # warm-up
        times = {"engine": [], "bare": []}
        for r in range(args.repeats):
            for name, fn in ((("engine", engine), ("bare", bare)) if r % 2 == 0 else (("bare", bare), ("engine", engine))):
                times[name].append(timed(fn, device))
        rate = {k: n * args.iterations / statistics.median(v) for k, v in times.items()}
        rows.append([str(n), f"{rate['engine']:.1f}", f"{rate['bare']:.1f}", f"{rate['engine'] / rate['bare']:.3f}", "✓" if rate["engine"] / rate["bare"] >= 0.95 else "✗"])
    return rows


if __name__ == "__main__":
    main()
