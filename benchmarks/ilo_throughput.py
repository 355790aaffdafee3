"""Throughput of CSGM and ILO (image·steps per second) on a generator, against a bare PyTorch loop
doing CSGM's maths, in the same run.

All three reconstruct the same batch of the generator's own samples from random-pixel inpainting
measurements (20 % of the pixels kept): CSGM (:func:`deeprestore.generative.csgm`, Adam on the
latent with the ramped rate and best-iterate bookkeeping), ILO (:func:`deeprestore.generative.ilo`,
the same budget spread over layers ``--layers`` with l1-ball projections), and the bare loop (Adam
on the latent, ``‖A(G(z)) − y‖²``, nothing else). Steps count every optimisation step of every
image.

Run (from the repository root)::

    python benchmarks/ilo_throughput.py                                  # the DCGAN face generator (faces extra), CPU
    python benchmarks/ilo_throughput.py --device cuda --batch 64
"""

from __future__ import annotations

import argparse
import statistics

import torch

from deeprestore.generative import csgm, ilo
from deeprestore.generative.dcgan_faces import face_generator
from deeprestore.generative.operators import make_operator

from machine import machine_lines, markdown_table, timed


def bare_csgm(generator, operator, y: torch.Tensor, steps: int, lr: float) -> torch.Tensor:
    """Adam on the latent, the measurement loss only."""
    z = torch.randn(len(y), *generator.latent_shape, generator=torch.Generator().manual_seed(0)).to(y).requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        (operator(generator(z)) - y).pow(2).flatten(1).mean(1).sum().backward()
        opt.step()
    return z.detach()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument(
        "--steps", type=int, nargs=4, default=[50, 50, 25, 25], help="ILO's steps on layers 0–3; CSGM and the bare loop get their sum"
    )
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    device = torch.device(args.device)
    generator = face_generator().to(device)
    with torch.no_grad():
        x = generator(generator.sample_latent(args.batch, torch.Generator().manual_seed(1)).to(device))
    operator = make_operator("inpaint-pixels", x.shape[1:], seed=0).to(device)  # its mask on the device, as in a study
    y = operator.measure(x, seeds=list(range(args.batch)))
    budget = sum(args.steps)
    runs = {
        "csgm": lambda: csgm(generator, operator, y, steps=budget, seed=0),
        "ilo": lambda: ilo(generator, operator, y, layers=(0, 1, 2, 3), steps=args.steps, radii=(0.1, 0.2, 0.3), seed=0),
        "bare loop (CSGM's maths)": lambda: bare_csgm(generator, operator, y, budget, 0.1),
    }
    for run in runs.values():  # warm-up
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for r in range(args.repeats):
        for name in runs if r % 2 == 0 else reversed(list(runs)):
            times[name].append(timed(runs[name], device))
    rate = {name: args.batch * budget / statistics.median(t) for name, t in times.items()}
    bare = rate["bare loop (CSGM's maths)"]
    print(markdown_table(["method", "image·steps/s", "× bare loop"], [[n, f"{v:.0f}", f"{v / bare:.2f}"] for n, v in rate.items()]))
    print(
        f"\nDCGAN face generator (64², z = 100), inpainting (20 % of the pixels), batch {args.batch}, {budget} steps, "
        f"median of {args.repeats} interleaved repeats, {device}."
    )
    print("\n".join(machine_lines()))


if __name__ == "__main__":
    main()
