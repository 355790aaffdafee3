"""Throughput of the optimisation engine (image·iterations per second) on each execution path
against a bare PyTorch loop doing the same maths, in the same run, with the GFLOP/s reached and
the fp32 matmul peak of the same machine.

Both sides minimise the ``mv2016`` energy — normalised feature loss at ``--layer`` (C = 300),
bounded range N₆ and TV² priors, the M&V 2016 momentum-RMSprop update, the bound projection after
every step — on the held-out sample photos (repeated to fill the batch), without jitter so both do
exactly the same work. The engine is :func:`deeprestore.inversion.minimise` (with its divergence
bookkeeping and history) on the data term built with each ``--paths`` entry (an
:class:`~deeprestore.inversion.Execution`: ``eager`` = nothing folded, contiguous, not compiled;
``fold``, ``fold+cl`` (channels-last), ``default`` (what ``Execution()`` resolves to here),
``compiled``, ``bf16``); the bare loop is written out below with plain tensors and the eager
network. GFLOP per image·iteration are counted (``torch.utils.flop_counter``) on one forward and
backward of the eager network; the host waits of one engine run of ``--iterations`` on each path
(:class:`~deeprestore.host_syncs.HostSyncCounter`, a run of its own outside the timings: the checks
before the loop and the reads after it; the loop itself waits for nothing), and with
``--sync-debug`` on CUDA the synchronisations CUDA itself reports in that run
(``torch.cuda.set_sync_debug_mode("warn")``).

Run (from the repository root)::

    python benchmarks/inversion_throughput.py                       # CPU, batches 1 2 4 8
    python benchmarks/inversion_throughput.py --paths eager default compiled --sizes 128 224 --batch-sizes 1 8
    python benchmarks/inversion_throughput.py --device cuda --batch-sizes 8 64 --sizes 224 --paths eager default bf16 compiled
    python benchmarks/inversion_throughput.py --sizes 224 --batch-sizes 8 --iterations 10 --repeats 2 \
        --nets efficientnet_lite0 efficientnet_lite1 efficientnet_lite2 torchvision/resnet50 \
        --layers block4 block5 block5 layer2 --weights pretrained pretrained pretrained random
"""

from __future__ import annotations

import argparse
import statistics
import warnings
from functools import partial

import torch
from torch.utils.flop_counter import FlopCounterMode

from datamodules import SamplePhotos
from deeprestore.host_syncs import HostSyncCounter
from deeprestore.inversion import Execution, NormalisedFeatureLoss, Phase, minimise, mv_noise, stepper_factory
from deeprestore.inversion.seeds import index_seeds
from deeprestore.nets import load_network
from deeprestore.priors import BoundedRange, TotalVariation
from deeprestore.priors.units import IMAGENET_MEAN_255, from_mv_units, mean_colour, to_mv_units

from machine import machine_lines, markdown_table, timed


def bare_loop(data, priors, init: torch.Tensor, iterations: int, lr: float, momentum: float = 0.9) -> torch.Tensor:
    """The same maths as the engine's ``mv2016`` phase, with nothing else."""
    mean = mean_colour(IMAGENET_MEAN_255)
    x = to_mv_units(init, mean).requires_grad_(True)
    squares, velocity = torch.zeros_like(x), torch.zeros_like(x)
    inv_lr = 1.0 / (init.shape[-2] * init.shape[-1] * lr)
    for _ in range(iterations):
        images = from_mv_units(x, mean)
        energy = data(images) + sum(w * p(images) for p, w in priors)
        x.grad = None
        energy.sum().backward()
        with torch.no_grad():
            squares.mul_(momentum).add_(x.grad * x.grad)
            velocity.mul_(momentum).sub_(x.grad / (inv_lr + squares.sqrt()))
            x.add_(velocity)
            x.copy_(to_mv_units(priors[0][0].project(from_mv_units(x, mean)), mean))
    return from_mv_units(x.detach(), mean)


PATHS: dict[str, Execution] = {
    "eager": Execution(fold_batchnorm=False, channels_last=False, compile=False),
    "fold": Execution(fold_batchnorm=True, channels_last=False, compile=False),
    "fold+cl": Execution(fold_batchnorm=True, channels_last=True, compile=False),
    "default": Execution(),
    "compiled": Execution(compile=True),
    "bf16": Execution(precision="bf16"),
}


def matmul_gflops(device: torch.device, n: int = 2048, repeats: int = 10, dtype: torch.dtype = torch.float32) -> float:
    """GFLOP/s of an ``n×n`` matmul in ``dtype`` on ``device``: the machine's arithmetic peak, as used here."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    best = min(timed(lambda: a @ b, device) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def step_gflop(net, layer: str, images: torch.Tensor) -> float:
    """GFLOP of one forward + backward of the data term per image (eager network)."""
    data = NormalisedFeatureLoss.from_images(net, {layer: 300.0}, images, execution=PATHS["eager"])
    x = images.clone().requires_grad_(True)
    with FlopCounterMode(display=False) as counter:
        data(x).sum().backward()
    return counter.get_total_flops() / len(images) / 1e9


def cuda_synchronisations(fn) -> int:
    """The synchronising CUDA calls ``fn()`` makes, as ``torch.cuda.set_sync_debug_mode`` reports them."""
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nets", nargs="+", default=["efficientnet_lite0"], help="networks (load_network names)")
    p.add_argument("--layers", nargs="+", default=["block4"], help="one target layer per network")
    p.add_argument("--weights", nargs="+", default=None, help="one weights value per network (default: pretrained)")
    p.add_argument("--sizes", type=int, nargs="+", default=[128])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--paths", nargs="+", default=["default"], choices=list(PATHS), help="execution paths of the engine")
    p.add_argument("--iterations", type=int, default=30)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--peak-dtype",
        default="float32",
        choices=("float32", "bfloat16"),
        help="dtype of the matmul whose GFLOP/s is the peak (bfloat16 for a GPU's bf16 rows)",
    )
    p.add_argument("--peak-size", type=int, default=2048, help="side of that matmul (8192 fills a large GPU)")
    p.add_argument("--sync-debug", action="store_true", help="on CUDA, count the synchronisations torch.cuda.set_sync_debug_mode reports")
    args = p.parse_args()
    device = torch.device(args.device)
    weights = args.weights or ["pretrained"] * len(args.nets)
    if not len(args.nets) == len(args.layers) == len(weights):
        p.error("--nets, --layers and --weights need one value per network")
    peak = matmul_gflops(device, args.peak_size, dtype=getattr(torch, args.peak_dtype))
    priors = [(BoundedRange(alpha=6.0), 1.0), (TotalVariation(beta=2.0), 1.0)]
    rows = []
    for size in args.sizes:
        photos = SamplePhotos(crop_size=size, resize=2 * size, eval_crops="center")
        photos.setup("test")
        base = next(iter(photos.test_dataloader())).to(device)
        lr = 0.05 * 80**2 / 6
        for name, layer, source in zip(args.nets, args.layers, weights):
            net = load_network(name, source).to(device)
            for row in throughput_rows(net, layer, base, priors, lr, args, device, peak):
                rows.append([f"{name} {layer} ({source})", f"{size}²", *row])
    print(
        markdown_table(
            [
                "network, layer (weights)",
                "size",
                "batch",
                "path",
                "engine image·it/s",
                "bare loop image·it/s",
                "ratio",
                "GFLOP/s",
                "% of matmul peak",
                "host waits per run",
                "CUDA syncs per run",
            ],
            rows,
        )
    )
    print(
        f"\n{args.iterations} iterations, median of {args.repeats} interleaved repeats, {device}; "
        f"{args.peak_dtype} {args.peak_size}² matmul peak {peak:.0f} GFLOP/s measured in this run."
    )
    print("\n".join(machine_lines()))


def throughput_rows(net, layer: str, base: torch.Tensor, priors, lr: float, args, device: torch.device, peak: float) -> list[list[str]]:
    """One row per batch size and path: engine and bare-loop image·iterations/s, their ratio, the
    GFLOP/s the engine reached and its fraction of ``peak``."""
    rows = []
    for n in args.batch_sizes:
        images = base.repeat((n + len(base) - 1) // len(base), 1, 1, 1)[:n]
        gflop = step_gflop(net, layer, images)
        init = mv_noise(images.shape, index_seeds(len(images), 0), device)
        eager = NormalisedFeatureLoss.from_images(net, {layer: 300.0}, images, execution=PATHS["eager"])
        runs = {"bare": partial(bare_loop, eager, priors, init, args.iterations, lr)}
        for path in args.paths:
            data = NormalisedFeatureLoss.from_images(net, {layer: 300.0}, images, execution=PATHS[path])
            runs[path] = partial(
                minimise, data, init, stepper_factory("mv2016"), [Phase(args.iterations, lr, 1)], priors=priors, progress=False
            )
        for fn in runs.values():  # warm-up (and compilation)
            fn()
        times: dict[str, list[float]] = {k: [] for k in runs}
        for r in range(args.repeats):
            for name in list(runs) if r % 2 == 0 else list(runs)[::-1]:
                times[name].append(timed(runs[name], device))
        rate = {k: n * args.iterations / statistics.median(v) for k, v in times.items()}
        for path in args.paths:
            with HostSyncCounter() as waits:
                runs[path]()
            cuda_syncs = str(cuda_synchronisations(runs[path])) if args.sync_debug and device.type == "cuda" else "–"
            rows.append(
                [
                    str(n),
                    path,
                    f"{rate[path]:.1f}",
                    f"{rate['bare']:.1f}",
                    f"{rate[path] / rate['bare']:.2f}",
                    f"{rate[path] * gflop:.1f}",
                    f"{100 * rate[path] * gflop / peak:.1f}",
                    str(waits.total),
                    cuda_syncs,
                ]
            )
    return rows


if __name__ == "__main__":
    main()
