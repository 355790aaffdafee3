"""Quality of the four inverter training modes: held-out SSIM, PSNR, MSE and feature error.

What is measured: for each layer of EfficientNet-Lite0 (``--layers``) and each mode, train.py's
``main()`` is run in this process on the default config (``configs/default.yaml``: the sample
photos), with ``--trainer.max_epochs --epochs``, ``--wandb disabled`` and checkpoints under
``<out>/checkpoints/modes_<layer>_<mode>/``. Modes ``parallel``, ``joint`` and ``end_to_end`` are
trained, then tested on the held-out split from their best checkpoint (by ``val/ssim``; the last
one when no validation ran); ``stacked`` is assembled from the parallel run's best checkpoint (so it
matches the parallel row: a parallel run is evaluated through the chained modules) and only tested. The returned test metrics (``test/ssim``, ``test/psnr``, ``test/mse``,
``test/feature_error``) and the wall time of each run go to ``<out>/inverter_modes.csv`` (columns
layer, mode, epochs, ssim, psnr, mse, feature_error, seconds), rewritten atomically after every
run; a markdown table of the whole CSV is printed at the end.

Resume: a (layer, mode) already in the CSV is skipped, so rerunning with the same ``--out``
continues an interrupted study (a different ``--epochs`` for the same ``--out`` is refused). The
checkpoint folder of a run that is not in the CSV is an unfinished attempt and is deleted before
the run starts again.

Any argument this script does not know is passed through to every ``main()`` call, e.g. to shrink
the data for a quick check.

Run (from the repository root)::

    python benchmarks/inverter_modes.py                                   # block1 block3, 30 epochs
    python benchmarks/inverter_modes.py --layers block1 block3 block5 --epochs 30 --out reports/inverter_modes
    python benchmarks/inverter_modes.py --epochs 1 --layers block1 --out /tmp/bench_modes \\
        --data.init_args.train_samples_per_epoch 16                       # sanity check, ~1 minute
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import time
import warnings
from pathlib import Path

from deeprestore.training import main as train_main

from machine import machine_lines, markdown_table

MODES = ("parallel", "joint", "end_to_end", "stacked")  # run order: stacked needs parallel's checkpoint
FIELDS = ("layer", "mode", "epochs", "ssim", "psnr", "mse", "feature_error", "seconds")
METRICS = ("ssim", "psnr", "mse", "feature_error")


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        allow_abbrev=False,
        epilog="Any other argument is passed through to train.py's main().",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--layers", nargs="+", default=["block1", "block3"], help="EfficientNet-Lite0 layers to invert")
    p.add_argument(
        "--modes",
        nargs="+",
        default=list(MODES),
        choices=MODES,
        help="modes to run (always in the order parallel, joint, end_to_end, stacked)",
    )
    p.add_argument("--epochs", type=int, default=30, help="training epochs of every trained mode")
    p.add_argument("--out", type=Path, default=Path("reports/inverter_modes"), help="folder for the CSV and the checkpoints")
    return p.parse_known_args(argv)


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    """Write the CSV atomically (temporary file in the same folder, then ``os.replace``)."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def run_one(layer: str, mode: str, epochs: int, checkpoints: Path, extra: list[str]) -> dict[str, str]:
    """Train (unless stacked) and test one (layer, mode); its CSV row."""
    experiment = f"modes_{layer}_{mode}"
    run_dir = checkpoints / experiment
    if run_dir.exists():
        print(f"removing the unfinished attempt {run_dir}")
        shutil.rmtree(run_dir)
    args = [
        "--experiment",
        experiment,
        "--checkpoint_root",
        str(checkpoints),
        "--wandb",
        "disabled",
        "--model.init_args.layer",
        layer,
        "--model.init_args.mode",
        mode,
        "--trainer.max_epochs",
        str(epochs),
        "--trainer.enable_progress_bar",
        "false",
    ]
    if mode == "stacked":
        best = sorted((checkpoints / f"modes_{layer}_parallel").glob("best-*.ckpt"))
        parallel = best[-1] if best else checkpoints / f"modes_{layer}_parallel" / "last.ckpt"
        if not parallel.exists():
            raise SystemExit(f"stacked {layer}: {parallel} is missing; run the parallel mode first (--modes parallel stacked)")
        args += ["--model.init_args.parallel_checkpoints", f"[{parallel}]"]
    print(f"\n=== {layer} {mode}: main({' '.join(args + extra)})", flush=True)
    start = time.perf_counter()
    metrics = train_main(args + extra)
    seconds = time.perf_counter() - start
    missing = [m for m in METRICS if f"test/{m}" not in metrics]
    if missing:
        raise RuntimeError(f"{layer} {mode}: main() returned no {missing} (got {sorted(metrics)})")
    row = {"layer": layer, "mode": mode, "epochs": str(epochs), "seconds": f"{seconds:.1f}"}
    row.update({m: f"{metrics[f'test/{m}']:.6g}" for m in METRICS})
    return row


def main(argv: list[str] | None = None) -> None:
    args, extra = parse_args(argv)
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")  # args come from this script
    args.out.mkdir(parents=True, exist_ok=True)
    csv_path = args.out / "inverter_modes.csv"
    rows = read_rows(csv_path)
    other = sorted({r["epochs"] for r in rows} - {str(args.epochs)})
    if other:
        raise SystemExit(f"{csv_path} holds runs of {', '.join(other)} epochs, not {args.epochs}: use another --out")
    done = {(r["layer"], r["mode"]) for r in rows}
    modes = [m for m in MODES if m in args.modes]
    for layer in args.layers:
        for mode in modes:
            if (layer, mode) in done:
                print(f"skipping {layer} {mode}: already in {csv_path}")
                continue
            rows.append(run_one(layer, mode, args.epochs, args.out / "checkpoints", extra))
            write_rows(csv_path, rows)
    order = {m: i for i, m in enumerate(MODES)}
    layers = {layer: i for i, layer in enumerate(args.layers)}
    rows.sort(key=lambda r: (layers.get(r["layer"], len(layers)), r["layer"], order.get(r["mode"], len(MODES))))
    table = [
        [
            r["layer"],
            r["mode"],
            r["epochs"],
            f"{float(r['ssim']):.4f}",
            f"{float(r['psnr']):.2f}",
            f"{float(r['mse']):.5f}",
            f"{float(r['feature_error']):.4f}",
            f"{float(r['seconds']):.0f}",
        ]
        for r in rows
    ]
    print()
    print(markdown_table(["layer", "mode", "epochs", "SSIM ↑", "PSNR (dB) ↑", "MSE ↓", "feature error ↓", "seconds"], table))
    print()
    print(
        f"EfficientNet-Lite0, held-out test split of configs/default.yaml{' with ' + ' '.join(extra) if extra else ''}; "
        f"stacked = the parallel modules chained, assembled from the parallel run's best checkpoint. CSV: {csv_path}"
    )
    print()
    print("\n".join(machine_lines()))


if __name__ == "__main__":
    main()
