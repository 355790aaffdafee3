"""Time to quality: how many iterations (and image·iterations, and seconds) each inversion method
needs to bring the mean feature error of a set of photos under a threshold.

What is measured, at each layer of EfficientNet-Lite0 with a trained inverting network under
``--checkpoints`` (``python train.py sweep --layers …`` makes them):

* ``inverter-<mode>``: the trained inverter's one pass (0 iterations);
* ``<preset>`` (default ``mv2016-calibrated``): the optimisation from its own noise start, at its
  full budget (the layer's calibrated one: 1,400 iterations at block4 and block8);
* ``hybrid-<preset>`` at each ``--fractions f``: the same optimisation started from the inverter's
  reconstruction with ``f`` of the budget, exactly as the inversion study's
  :class:`~deeprestore.studies.inversion.methods.HybridMethod` runs it.

Every run keeps its images every ``--every`` iterations (:attr:`InversionResult.snapshots`); each
snapshot is scored as the inversion study scores (:func:`~deeprestore.studies.inversion.scoring.score`:
clamped images, feature error at the layer, SSIM, PSNR, sharpness). A method reaches quality at
the first snapshot whose mean feature error is ≤ ``--threshold``; image·iterations are that
iteration times the number of images, and seconds are the run's wall time (without the scoring of
snapshots) times the fraction of its iterations done by then, plus the inverter's pass for a
hybrid, per image. All images are one batch (each is its own problem: its start and the result do
not depend on the batch).

Output: a markdown table per layer (final scores, and the time to quality or "not reached"), the
curves as ``<out>/curves.csv`` (layer, method, iteration, mean feature error, SSIM, PSNR) and
``<out>/feature_error_<layer>.png``.

Run (from the repository root)::

    python benchmarks/time_to_quality.py                             # block4 block8, the 22 held-out photos
    python benchmarks/time_to_quality.py --layers block4 --images 4 --every 50 --out /tmp/ttq   # a quick look
"""

from __future__ import annotations

import argparse
import csv
import io
import time
from pathlib import Path

import torch

from datamodules.evaluation_images import held_out_images
from deeprestore.atomic_io import atomic_write
from deeprestore.inversion import invert
from deeprestore.nets import load_network
from deeprestore.studies.inversion.inverter_checkpoints import find_inverter_checkpoints
from deeprestore.studies.inversion.methods import HybridMethod, InverterMethod
from deeprestore.studies.inversion.scoring import score

from machine import machine_lines, markdown_table

SCORES = ("feature_error", "ssim", "psnr", "sharpness")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--layers", nargs="+", default=["block4", "block8"], help="EfficientNet-Lite0 layers (each needs an inverter)")
    p.add_argument("--checkpoints", type=Path, default=Path("checkpoints"), help="train.py's experiment folders")
    p.add_argument("--mode", default="joint", help="the inverters' training mode")
    p.add_argument("--preset", default="mv2016-calibrated", help="the optimisation preset")
    p.add_argument("--fractions", nargs="+", type=float, default=[0.25], help="hybrid budgets, as fractions of the preset's")
    p.add_argument("--images", type=int, default=22, help="the first this many held-out photos")
    p.add_argument("--crop_size", type=int, default=128)
    p.add_argument("--every", type=int, default=25, help="iterations between snapshots")
    p.add_argument("--threshold", type=float, default=0.15, help="the mean feature error to reach")
    p.add_argument("--out", type=Path, default=Path("reports/time_to_quality"))
    args = p.parse_args(argv)
    if not 1 <= args.images <= 22:
        p.error(f"--images must be 1–22 (the held-out photos), got {args.images}")
    if args.every < 1 or any(not 0 < f <= 1 for f in args.fractions):
        p.error(f"--every must be ≥ 1 and every --fractions value in (0, 1]; got {args.every} and {args.fractions}")
    return args


def find_inverter(root: Path, layer: str, mode: str) -> InverterMethod:
    methods, _ = find_inverter_checkpoints(root, "efficientnet_lite0")
    for method in methods:
        if method.layer == layer and method.mode == mode:
            return method
    raise SystemExit(f"time_to_quality.py: no {mode} inverter of efficientnet_lite0 {layer} under {root}; "
                     f"train one: python train.py sweep --layers {layer}")  # fmt: skip


def curve(net, layer: str, images: torch.Tensor, labels, snapshots: dict[int, torch.Tensor]) -> dict[int, dict[str, float]]:
    """Mean scores of every snapshot."""
    out = {}
    for iteration, recon in snapshots.items():
        scores = score(net, layer, images, recon, labels)
        out[iteration] = {k: sum(scores[k]) / len(scores[k]) for k in SCORES}
    return out


def reached(points: dict[int, dict[str, float]], threshold: float) -> int | None:
    return next((it for it, s in sorted(points.items()) if s["feature_error"] <= threshold), None)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    net = load_network("efficientnet_lite0")
    data = held_out_images(args.crop_size)
    items = [data[i] for i in range(args.images)]
    images = torch.stack([item["image"] for item in items])
    labels = [data.labels[i] for i in range(args.images)]
    n = len(images)
    curves: list[dict[str, object]] = []
    tables: list[str] = []
    for layer in args.layers:
        inverter = find_inverter(args.checkpoints, layer, args.mode)
        start = time.perf_counter()
        reconstruct = inverter.reconstructor(net, layer, iterations_scale=1.0, seed=0, progress=False)
        recon = reconstruct(images)[0]
        inverter_seconds = time.perf_counter() - start
        runs: dict[str, tuple[dict[int, dict[str, float]], float, float]] = {
            inverter.name: (curve(net, layer, images, labels, {0: recon}), inverter_seconds, 0.0)
        }
        starts = {args.preset: (None, 1.0, 0.0)}
        for fraction in args.fractions:
            name = HybridMethod(args.preset, inverter, fraction).name + (f"×{fraction:g}" if len(args.fractions) > 1 else "")
            starts[name] = (recon.clamp(0, 1), fraction, inverter_seconds)
        for name, (init, fraction, before) in starts.items():
            start = time.perf_counter()
            result = invert(
                net, images, [layer], args.preset, init=init, iterations_scale=fraction, snapshot_every=args.every, progress=True
            )
            runs[name] = (curve(net, layer, images, labels, result.snapshots), time.perf_counter() - start, before)
        rows = []
        for name, (points, seconds, before) in runs.items():
            last = max(points)
            at = reached(points, args.threshold)
            to_quality = None if at is None else (before + seconds * (at / last if last else 1.0)) / n
            rows.append(
                [
                    name,
                    last,
                    *(f"{points[last][k]:.3f}" for k in SCORES),
                    "not reached" if at is None else at,
                    "—" if at is None else at * n,
                    "—" if to_quality is None else f"{to_quality:.2f}",
                    f"{(seconds + before) / n:.2f}",
                ]  # fmt: skip
            )
            curves += [
                {"layer": layer, "method": name, "iteration": it, **{k: round(v, 5) for k, v in s.items()}}
                for it, s in sorted(points.items())
            ]
        header = [
            "method",
            "iterations",
            *SCORES,
            f"iterations to FE ≤ {args.threshold:g}",
            "image·iterations",
            "s/image to FE",
            "s/image in all",
        ]
        tables.append(f"### {layer} ({n} held-out photos, {args.crop_size}² crops)\n\n" + markdown_table(header, rows))
        plot_curves(args.out / f"feature_error_{layer}.png", layer, runs, args.threshold)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["layer", "method", "iteration", *SCORES])
    writer.writeheader()
    writer.writerows(curves)
    atomic_write(args.out / "curves.csv", lambda f: f.write(buffer.getvalue().encode()))
    print("\n\n".join(tables))
    print("\n" + "\n".join(machine_lines()))
    print(f"- curves: {args.out / 'curves.csv'}")


def plot_curves(path: Path, layer: str, runs, threshold: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, (points, _, _) in runs.items():
        its = sorted(points)
        ax.plot(its, [points[i]["feature_error"] for i in its], marker="o" if len(its) == 1 else None, label=name)
    ax.axhline(threshold, color="grey", linestyle="--", linewidth=1)
    ax.set(xlabel="iterations", ylabel="mean feature error", yscale="log", title=f"EfficientNet-Lite0 {layer}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    atomic_write(path, lambda f: f.write(buffer.getvalue()))


if __name__ == "__main__":
    main()
