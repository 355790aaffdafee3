"""Seconds per sample of layer-wise LP inversion (Lei et al. 2019) against the Adam baseline (CSGM).

Random fully connected ReLU generators ``k → c·k → c²·k`` (weights ``N(0, 1/n_out)``, float64), a
fresh network and latent per sample, noiseless ``x = G(z)``, both methods on the same networks in
the same run:

* LP: :func:`deeprestore.generative.lp_inversion.invert_layerwise` with ``noise="none"`` (eq. 3 per layer, HiGHS
  through ``scipy.optimize.linprog``), one sample at a time; the dense weights are read once per
  network and not counted;
* Adam: :func:`deeprestore.generative.gradient_inversion.invert_by_gradient_descent` with its
  defaults (1000 steps, 4 restarts batched, cosine-decayed lr 0.05), one sample at a time.

Success: ``‖ẑ − z‖/‖z‖ < 1e-6``. Median over samples.

Run (from the repository root)::

    python benchmarks/lp_inversion_time.py                          # k = 20, c ∈ {2, 3, 5, 10}, 10 samples
    python benchmarks/lp_inversion_time.py --latent 20 --expansions 5 10 --samples 5
"""

from __future__ import annotations

import argparse
import math
import statistics

import torch

from deeprestore.generative.fc_generator import fully_connected_generator
from deeprestore.studies.lp.experiments import invert_with

from machine import machine_lines, markdown_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latent", type=int, default=20, help="latent dimension k")
    parser.add_argument("--expansions", type=float, nargs="+", default=[2, 3, 5, 10], help="width factor c per layer")
    parser.add_argument("--depth", type=int, default=2, help="ReLU layers (the output one included)")
    parser.add_argument("--samples", type=int, default=10, help="networks (one latent each) per width")
    parser.add_argument("--gd-steps", type=int, default=1000)
    parser.add_argument("--restarts", type=int, default=4)
    args = parser.parse_args()
    rows = []
    for c in args.expansions:
        widths = [args.latent]
        for _ in range(args.depth):
            widths.append(int(math.ceil(c * widths[-1] - 1e-9)))
        seconds = {"lp": [], "gd": []}
        success = {"lp": 0, "gd": 0}
        for s in range(args.samples):
            G = fully_connected_generator(widths, seed=s, dtype=torch.float64)
            z = G.sample_latent(1, torch.Generator().manual_seed(10**6 + s)).double()
            x = G(z)
            for method in ("lp", "gd"):
                z_hat, sec, _ = invert_with(method, G, x, seed=s, gd_options={"steps": args.gd_steps, "restarts": args.restarts})
                seconds[method] += sec
                success[method] += int(((z_hat - z).norm() / z.norm()).item() < 1e-6)
        lp, gd = statistics.median(seconds["lp"]), statistics.median(seconds["gd"])
        rows.append(
            [
                "-".join(map(str, widths)),
                f"{c:g}×",
                f"{lp:.4f}",
                f"{gd:.4f}",
                f"{gd / lp:.1f}×",
                f"{success['lp']}/{args.samples}",
                f"{success['gd']}/{args.samples}",
            ]
        )
    print(markdown_table(["widths", "expansion", "LP s/sample", "Adam s/sample", "Adam / LP", "LP recovered", "Adam recovered"], rows))
    print(f"\n- Adam: {args.gd_steps} steps × {args.restarts} restarts (batched); LP: HiGHS, one layer at a time")
    print("\n".join(machine_lines()))


if __name__ == "__main__":
    main()
