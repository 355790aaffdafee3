"""Peak memory of the default training run (``python train.py``) against a framework+model baseline.

What is measured, each in its own child process started from the repository root:

1. ``python -c "import torch"``: the interpreter and torch alone.
2. the baseline: import torch, build the frozen network (``deeprestore.nets.load_network(--net)``)
   and run one forward on a ``--batch-size``×3×``--crop``×``--crop`` batch (on CUDA if available,
   like the default config's ``accelerator: auto``).
3. the embedded default run, ``train.py --wandb disabled --checkpoint_root <temp dir>`` plus any
   extra arguments given to this script (passed through, e.g. ``--trainer.max_epochs 1``): fit on
   the default config, then the held-out test. ``train.py`` is run with ``runpy`` inside the child
   so that the child can also report ``torch.cuda.max_memory_allocated`` when it used CUDA.

Peak resident memory is the child's ``ru_maxrss`` (the quantity ``resource.getrusage(
resource.RUSAGE_CHILDREN)`` reports, taken per child with ``os.wait4``), in MiB; wall time is the
child's whole lifetime (start-up and imports included).

Run (from the repository root)::

    python benchmarks/peak_memory.py                           # the full default run (minutes on CPU)
    python benchmarks/peak_memory.py --trainer.max_epochs 1    # extra arguments go to train.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import machine_lines, markdown_table

ROOT = Path(__file__).resolve().parents[1]

BASELINE = """
import json, sys
import torch
from deeprestore.nets import load_network
stats_path, net_name, batch, crop = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
device = "cuda" if torch.cuda.is_available() else "cpu"
net = load_network(net_name).to(device)
with torch.no_grad():
    net(torch.rand(batch, 3, crop, crop, device=device))
stats = {"device": device}
if device == "cuda":
    torch.cuda.synchronize()
    stats["cuda_max_allocated"] = torch.cuda.max_memory_allocated()
with open(stats_path, "w") as f:
    json.dump(stats, f)
"""

TRAIN = """
import json, runpy, sys
stats_path = sys.argv[1]
sys.argv = ["train.py", *sys.argv[2:]]
runpy.run_path("train.py", run_name="__main__")
import torch
stats = {"device": "cuda" if torch.cuda.is_initialized() else "cpu"}
if torch.cuda.is_initialized():
    torch.cuda.synchronize()
    stats["cuda_max_allocated"] = torch.cuda.max_memory_allocated()
with open(stats_path, "w") as f:
    json.dump(stats, f)
"""


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        allow_abbrev=False,
        epilog="Any other argument is passed through to train.py.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--net", default="efficientnet_lite0", help="network of the baseline process")
    p.add_argument("--batch-size", type=int, default=8, help="baseline forward batch (configs/default.yaml)")
    p.add_argument("--crop", type=int, default=128, help="baseline forward crop side (configs/default.yaml)")
    p.add_argument("--log", type=Path, default=None, help="keep train.py's output in this file")
    return p.parse_known_args(argv)


def run_child(cmd: list[str], log: Path) -> tuple[float, float, int]:
    """Run ``cmd`` from the repository root; its (peak RSS in MiB, wall seconds, exit code)."""
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    scale = 2**20 if sys.platform == "darwin" else 2**10  # ru_maxrss: bytes on macOS, KiB on Linux
    return usage.ru_maxrss / scale, seconds, proc.returncode


def read_stats(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def main(argv: list[str] | None = None) -> None:
    args, extra = parse_args(argv)
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="peak_memory_") as tmp:
        tmp_dir = Path(tmp)
        train_log = args.log or tmp_dir / "train.log"
        train_args = ["--wandb", "disabled", "--checkpoint_root", str(tmp_dir / "checkpoints"), *extra]
        children = [
            ("python + `import torch`", [sys.executable, "-c", "import torch"], tmp_dir / "torch.log", None),
            (
                f"baseline: torch + frozen `{args.net}` + 1 forward ({args.batch_size}×3×{args.crop}×{args.crop})",
                [sys.executable, "-c", BASELINE, str(tmp_dir / "baseline.json"), args.net, str(args.batch_size), str(args.crop)],
                tmp_dir / "baseline.log",
                tmp_dir / "baseline.json",
            ),
            (
                f"`python train.py {' '.join(train_args[:2] + ['--checkpoint_root', '<tmp>'] + extra)}`",
                [sys.executable, "-c", TRAIN, str(tmp_dir / "train.json"), *train_args],
                train_log,
                tmp_dir / "train.json",
            ),
        ]
        peaks = []
        for label, cmd, log, stats_path in children:
            print(f"running: {label} ...", flush=True)
            peak, seconds, rc = run_child(cmd, log)
            if rc != 0:
                print(log.read_text()[-4000:], file=sys.stderr)
                raise SystemExit(f"{label} failed with exit code {rc} (output above)")
            stats = read_stats(stats_path) if stats_path else {}
            cuda = f"{stats['cuda_max_allocated'] / 2**20:.0f}" if "cuda_max_allocated" in stats else "–"
            rows.append([label, f"{peak:.0f}", cuda, f"{seconds:.1f}"])
            peaks.append(peak)
        summary = [line for line in train_log.read_text().splitlines() if line.startswith("held-out SSIM")]
    print()
    print(markdown_table(["process", "peak RSS (MiB)", "torch.cuda.max_memory_allocated (MiB)", "wall (s)"], rows))
    print()
    print(
        f"Training above the framework+model baseline: {peaks[2] - peaks[1]:+.0f} MiB peak RSS. "
        "Peak RSS is each child's ru_maxrss (os.wait4); wall time includes interpreter start-up and imports."
    )
    if summary:
        print(f"train.py reported: {summary[-1]}")
    print()
    print("\n".join(machine_lines()))


if __name__ == "__main__":
    main()
