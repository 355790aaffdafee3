"""Rows per second of the batched l1-ball projection against a Python loop over rows.

Both run Duchi et al.'s (2008) sort-based projection, :func:`deeprestore.generative.l1_ball.project_l1_ball`,
on the same random rows (standard Gaussian, radius ``0.1·d`` ≈ an eighth of a row's l1 norm, so
every row is outside its ball and really projected):

* batched: one call on the ``N×d`` batch (one sort, cumulative sum and gather for all rows);
* loop: ``N`` calls on ``1×d`` slices, one row at a time — the same algorithm in torch per row.

Run (from the repository root)::

    python benchmarks/l1_projection_throughput.py                          # N ∈ {64, 1024, 8192}, d ∈ {512, 8192}
    python benchmarks/l1_projection_throughput.py --batches 64 1024 --dims 512 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

import torch

from deeprestore.generative.l1_ball import project_l1_ball

from machine import machine_lines, markdown_table


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """Median seconds of ``run()`` over ``repeats`` calls after one warm-up call."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def loop_projection(rows: torch.Tensor, radius: float) -> torch.Tensor:
    """Project row by row with the same function; the rows stacked back."""
    return torch.cat([project_l1_ball(rows[i : i + 1], radius) for i in range(rows.shape[0])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 1024, 8192], help="numbers of rows N")
    parser.add_argument("--dims", type=int, nargs="+", default=[512, 8192], help="row dimensions d")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    rows = []
    for dim in args.dims:
        radius = 0.1 * dim
        for batch in args.batches:
            v = torch.randn(batch, dim, generator=torch.Generator().manual_seed(0), dtype=dtype)
            batched_out, loop_out = project_l1_ball(v, radius), loop_projection(v, radius)
            torch.testing.assert_close(batched_out, loop_out)  # same answer both ways
            assert bool((v.abs().sum(1) > radius).all()), "every row should be outside the ball"
            fast = median_seconds(partial(project_l1_ball, v, radius), args.repeats)
            slow = median_seconds(partial(loop_projection, v, radius), args.repeats)
            rows.append([str(batch), str(dim), f"{batch / fast:,.0f}", f"{batch / slow:,.0f}", f"{slow / fast:.1f}×"])
    print(markdown_table(["N", "d", "batched rows/s", "loop rows/s", "speed-up"], rows))
    print(
        f"- dtype {args.dtype}, median of {args.repeats} runs after one warm-up, radius 0.1·d ≈ ⅛ of a row’s l1 norm (all rows projected)"
    )
    print("\n".join(machine_lines()))


if __name__ == "__main__":
    main()
