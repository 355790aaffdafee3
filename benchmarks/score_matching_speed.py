"""Patches per second of the closed-form score-matching step against a naive autograd version.

Both compute Hyvärinen's J̃ (MSc thesis eq. 8) and its gradient w.r.t. the filters and the expert
weights — one optimisation step's worth of work — on the same random whitened patches:

* closed form: :func:`deeprestore.priors.score_matching_objective` (two matrix products);
* naive: :func:`deeprestore.priors.score_matching.naive_score_matching_objective` — the score by
  autograd, then the Hessian diagonal one input dimension at a time (``d`` extra backward passes,
  ``create_graph`` so the parameters' gradient flows), the textbook way to get ``Σᵢ ∂ᵢψᵢ``.

Run (from the repository root)::

    python benchmarks/score_matching_speed.py                    # 8×8 colour (d = 189), 512 filters
    python benchmarks/score_matching_speed.py --dims 24 189 --filters 512 --patches 2048
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from deeprestore.priors.score_matching import naive_score_matching_objective, score_matching_objective

from machine import machine_lines, markdown_table


def step_seconds(objective, patches: torch.Tensor, filters: torch.Tensor, log_alphas: torch.Tensor, expert: str, repeats: int) -> float:
    """Median seconds of loss + backward."""
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        loss = objective(patches, filters, log_alphas.exp(), expert)
        loss.backward()
        times.append(time.perf_counter() - start)
        filters.grad = log_alphas.grad = None
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dims", type=int, nargs="+", default=[24, 189], help="patch dimensions d (24 = 5×5 grey, 189 = 8×8 colour minus DC)"
    )
    parser.add_argument("--filters", type=int, default=512)
    parser.add_argument("--patches", type=int, default=2048)
    parser.add_argument("--expert", default="ica")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for dim in args.dims:
        g = torch.Generator().manual_seed(0)
        patches = torch.randn(args.patches, dim, generator=g)
        filters = (torch.randn(args.filters, dim, generator=g) / dim**0.5).requires_grad_(True)
        log_alphas = torch.zeros(args.filters, requires_grad=True)
        fast = step_seconds(score_matching_objective, patches, filters, log_alphas, args.expert, args.repeats)
        slow = step_seconds(naive_score_matching_objective, patches, filters, log_alphas, args.expert, args.repeats)
        rows.append(
            [
                str(dim),
                str(args.filters),
                str(args.patches),
                f"{args.patches / fast:,.0f}",
                f"{args.patches / slow:,.0f}",
                f"{slow / fast:.1f}×",
            ]
        )
    print(markdown_table(["d", "filters", "patches", "closed form patches/s", "naive autograd patches/s", "speed-up"], rows))
    print("\n".join(machine_lines()))


if __name__ == "__main__":
    main()
