"""The LP study's gradient-descent baseline (CSGM on a small ReLU network) with the repository's
:class:`~deeprestore.plain_adam.PlainAdam` against the same loop through ``torch.optim.Adam`` and
``LambdaLR``, in the same run.

On a 20→100→500 network one Adam step is a few tensor operations on a few thousand numbers, so
``Optimizer.step``'s bookkeeping is a large part of the step. Both loops compute the same iterates
(the script checks they are bit-identical) and run with Lightning imported, as the studies do
(Lightning sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1``, which makes ``Optimizer.step``'s accelerator
check load NVML on every call when no GPU driver is present).

Run (from the repository root)::

    python benchmarks/gd_step_overhead.py
    OMP_NUM_THREADS=1 python benchmarks/gd_step_overhead.py --threads 1
"""

from __future__ import annotations

import argparse
import math
import statistics
from functools import partial

import lightning  # noqa: F401  (imported for its side effect on torch's CUDA check, as in the studies)
import torch

from deeprestore.generative.fc_generator import fully_connected_generator
from deeprestore.generative.gradient_inversion import invert_by_gradient_descent

from machine import machine_lines, markdown_table, timed


def torch_optim_gd(
    generator, x: torch.Tensor, steps: int, lr: float, restarts: int, seed: int, final_lr_ratio: float = 1e-3
) -> torch.Tensor:
    """invert_by_gradient_descent's maths with ``torch.optim.Adam`` and ``LambdaLR``; all restarts."""
    target = x.repeat(restarts, 1)
    h = torch.randn(restarts * len(x), *generator.latent_shape, generator=torch.Generator().manual_seed(seed), dtype=x.dtype)
    h.requires_grad_(True)
    opt = torch.optim.Adam([h], lr=lr, foreach=False)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: final_lr_ratio + (1 - final_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(i, steps) / max(steps, 1)))
    )
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        (generator(h) - target).flatten(1).pow(2).sum(1).sum().backward()
        opt.step()
        sched.step()
    return h.detach()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--widths", type=int, nargs="+", default=[20, 100, 500])
    p.add_argument("--samples", type=int, default=4, help="targets per call (the LP study: one per noise level)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--restarts", type=int, default=4)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    G = fully_connected_generator(args.widths, seed=0, dtype=torch.float64).requires_grad_(False)
    x = G(G.sample_latent(args.samples, torch.Generator().manual_seed(1)).double())
    ours = partial(invert_by_gradient_descent, G, x, steps=args.steps, restarts=args.restarts, seed=0, return_loss=True)
    theirs = partial(torch_optim_gd, G, x, args.steps, 0.05, args.restarts, 0)
    # same iterates: the last iterate of every restart, ours recomputed without picking the best
    h_torch = theirs()
    loss_torch = (G(h_torch) - x.repeat(args.restarts, 1)).flatten(1).pow(2).sum(1).reshape(args.restarts, -1).min(0).values
    identical = torch.equal(ours()[1], loss_torch)
    times: dict[str, list[float]] = {"PlainAdam (the code)": [], "torch.optim.Adam + LambdaLR": []}
    for _ in range(args.repeats):  # interleaved, so drifts in the machine's speed hit both
        for name, fn in (("PlainAdam (the code)", ours), ("torch.optim.Adam + LambdaLR", theirs)):
            times[name].append(timed(fn, torch.device("cpu")))
    base = statistics.median(times["torch.optim.Adam + LambdaLR"])
    rows = [
        [
            name,
            f"{statistics.median(t) / args.samples:.3f}",
            f"{1e6 * statistics.median(t) / args.steps:.0f}",
            f"{base / statistics.median(t):.2f}×",
        ]
        for name, t in times.items()
    ]
    print(markdown_table(["loop", "s/sample", "µs/step", "speed-up"], rows))
    print(
        f"\nwidths {'-'.join(map(str, args.widths))}, {args.samples} samples × {args.restarts} restarts, {args.steps} steps, "
        f"median of {args.repeats}; best losses bit-identical: {identical}"
    )
    print("\n".join(machine_lines()))


if __name__ == "__main__":
    main()
