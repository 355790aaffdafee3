"""Training throughput (images/second) of the Lightning training step against a bare PyTorch loop.

What is measured: for each mode, two ``InvertingNetwork`` instances are built the same way (same
seed, same arguments). One is trained by a real ``lightning.Trainer`` (``max_steps=N``, no
logger, no checkpointing, no progress bar, no model summary, no validation), the other by a bare
loop doing the same maths::

    levels, sizes = model.true_levels(x)
    loss = sum(w_k * l_k for k, l_k in model.level_losses(levels, sizes).items())  # w = image_loss_weight
    opt.zero_grad(set_to_none=True); loss.backward(); opt.step()

with the optimizer from ``model.configure_optimizers()`` (the same Adam settings Lightning gets).
Both are fed from one list of N batches materialised once from ``SamplePhotos``' train dataloader
and moved to the device beforehand, so data loading and host-to-device copies are excluded from
both sides (Lightning iterates a ``DataLoader(batches, batch_size=None)`` over that list). After
the warm-up round the script prints the largest parameter difference between the two models (0 on
CPU in fp32: the same maths, step for step).

Timing: only steady-state steps: from the start of step ``--warmup-steps`` to the end of the last
step (a Callback on the Lightning side, ``time.perf_counter()``, CUDA synchronised). One untimed
warm-up round of each, then ``--repeats`` interleaved repetitions (Lightning then bare, bare then
Lightning, ...); the table shows the medians and the ratio Lightning/bare (target: >= 0.9).
bf16: ``precision="bf16-mixed"`` in Lightning, ``torch.autocast(dtype=torch.bfloat16)`` around the
forward and the loss in the bare loop.

Run (from the repository root)::

    python benchmarks/train_throughput.py                          # CPU, fp32, joint, block3
    python benchmarks/train_throughput.py --mode parallel joint end_to_end --repeats 5
    python benchmarks/train_throughput.py --channels-last                  # the ChannelsLast callback
    python benchmarks/train_throughput.py --device cuda --precision bf16 --batch-size 32 --steps 50
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
import warnings

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from datamodules import SamplePhotos
from deeprestore.inverters import InvertingNetwork
from deeprestore.inverters.operations import IMAGE

from machine import machine_lines, markdown_table

TRAINABLE_MODES = ("parallel", "joint", "end_to_end")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--net", default="efficientnet_lite0", help="zoo network")
    p.add_argument("--layer", default="block3", help="layer whose features are inverted")
    p.add_argument("--mode", nargs="+", default=["joint"], choices=TRAINABLE_MODES, help="training mode(s); one table row each")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--crop", type=int, default=128, help="crop side in pixels")
    p.add_argument("--steps", type=int, default=30, help="training steps per repetition (warm-up steps included)")
    p.add_argument("--warmup-steps", type=int, default=5, help="untimed steps at the start of every repetition")
    p.add_argument("--repeats", type=int, default=3, help="timed repetitions of each side (interleaved)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--precision", default="32", choices=("32", "bf16"))
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (configs/default.yaml)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--channels-last", action="store_true", help="both sides channels-last (deeprestore.training.ChannelsLast)")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    args = p.parse_args(argv)
    if not 0 <= args.warmup_steps < args.steps:
        p.error("need 0 <= --warmup-steps < --steps")
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda but torch.cuda.is_available() is False")
    return args


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_model(args: argparse.Namespace, mode: str) -> InvertingNetwork:
    """The model both sides train, built the same way every time (same seed, same arguments)."""
    L.seed_everything(args.seed, verbose=False)
    model = InvertingNetwork(net=args.net, layer=args.layer, mode=mode, lr=args.lr)
    if args.channels_last:  # what the ChannelsLast callback does at setup
        model.to(memory_format=torch.channels_last)
    return model


def materialise_batches(args: argparse.Namespace, device: torch.device) -> list[Tensor]:
    """``--steps`` batches from SamplePhotos' train dataloader, on ``device``."""
    data = SamplePhotos(
        crop_size=args.crop,
        resize=max(256, args.crop),
        batch_size=args.batch_size,
        train_samples_per_epoch=args.batch_size * args.steps,
        seed=args.seed,
    )
    data.setup("fit")
    batches = [b.to(device) for b in data.train_dataloader()]
    assert len(batches) == args.steps and all(len(b) == args.batch_size for b in batches)
    return batches


def bare_seconds(model: InvertingNetwork, batches: list[Tensor], warmup: int, precision: str) -> float:
    """Seconds taken by steps ``warmup..`` of a bare training loop over ``batches``."""
    device = batches[0].device
    model.to(device).train()
    opt = model.configure_optimizers()
    weight = model.hparams.image_loss_weight
    start = 0.0
    for i, x in enumerate(batches):
        if i == warmup:
            sync(device)
            start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            levels, sizes = model.true_levels(x)
            losses = model.level_losses(levels, sizes)
            loss = sum(value * (weight if k == IMAGE else 1.0) for k, value in losses.items())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync(device)
    return time.perf_counter() - start


class StepTimer(L.Callback):
    """Wall time from the start of batch ``first`` to the end of batch ``last`` (one epoch)."""

    def __init__(self, first: int, last: int, device: torch.device) -> None:
        self.first, self.last, self.device = first, last, device
        self.start = self.end = float("nan")

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Tensor, batch_idx: int) -> None:
        if batch_idx == self.first:
            sync(self.device)
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: object, batch: Tensor, batch_idx: int) -> None:
        if batch_idx == self.last:
            sync(self.device)
            self.end = time.perf_counter()


def lightning_seconds(model: InvertingNetwork, batches: list[Tensor], warmup: int, precision: str) -> float:
    """Seconds taken by steps ``warmup..`` of ``Trainer.fit`` over ``batches`` (one epoch)."""
    device = batches[0].device
    timer = StepTimer(warmup, len(batches) - 1, device)
    trainer = L.Trainer(
        accelerator=device.type,
        devices=1,
        precision="bf16-mixed" if precision == "bf16" else "32-true",
        max_steps=len(batches),
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )
    trainer.fit(model, train_dataloaders=DataLoader(batches, batch_size=None, shuffle=False))
    if trainer.global_step != len(batches):
        raise RuntimeError(f"Lightning ran {trainer.global_step} steps, expected {len(batches)}")
    return timer.end - timer.start


def measure_mode(args: argparse.Namespace, mode: str, batches: list[Tensor]) -> tuple[list[float], list[float]]:
    """Images/second of every timed repetition: (Lightning, bare)."""
    lightning_model, bare_model = build_model(args, mode), build_model(args, mode)
    images = (len(batches) - args.warmup_steps) * args.batch_size
    lightning_seconds(lightning_model, batches, args.warmup_steps, args.precision)  # untimed warm-up round
    bare_seconds(bare_model, batches, args.warmup_steps, args.precision)
    # same start, same batches, same maths: the two models should still agree (exactly, on CPU in fp32)
    diff = max((a - b).abs().max().item() for a, b in zip(lightning_model.chain.parameters(), bare_model.chain.parameters()))
    print(f"  {mode}: max |Δparameter| between the Lightning and bare models after the warm-up round: {diff:.3g}", flush=True)
    lit, bare = [], []
    for r in range(args.repeats):
        order = ("lightning", "bare") if r % 2 == 0 else ("bare", "lightning")
        for side in order:
            if side == "lightning":
                lit.append(images / lightning_seconds(lightning_model, batches, args.warmup_steps, args.precision))
            else:
                bare.append(images / bare_seconds(bare_model, batches, args.warmup_steps, args.precision))
        print(f"  {mode} repeat {r + 1}/{args.repeats}: Lightning {lit[-1]:.1f} img/s, bare {bare[-1]:.1f} img/s", flush=True)
    return lit, bare


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no "GPU available ..." lines per fit
    # expected here: no workers (batches are pre-materialised), no val loop, the frozen network in eval mode
    warnings.filterwarnings(
        "ignore",
        message=r".*(does not have many workers|smaller than the logging interval"
        r"|but have no `val_dataloader`|module\(s\) in eval mode|LeafSpec).*",
    )
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    batches = materialise_batches(args, device)
    rows = []
    for mode in args.mode:
        lit, bare = measure_mode(args, mode, batches)
        lit_med, bare_med = statistics.median(lit), statistics.median(bare)
        ratio = lit_med / bare_med
        setting = f"{args.net} {args.layer} {mode}, batch {args.batch_size}, crop {args.crop}, {'fp32' if args.precision == '32' else 'bf16-mixed'}, {args.device}"
        rows.append(
            [
                setting,
                f"{lit_med:.1f} ({min(lit):.1f}–{max(lit):.1f})",
                f"{bare_med:.1f} ({min(bare):.1f}–{max(bare):.1f})",
                f"{ratio:.3f}",
                "≥ 0.9× " + ("✓" if ratio >= 0.9 else "✗"),
            ]
        )
    timed = args.steps - args.warmup_steps
    print()
    print(markdown_table(["setting", "Lightning img/s", "bare loop img/s", "ratio (Lightning/bare)", "target"], rows))
    print()
    print(
        f"Medians (min–max) over {args.repeats} interleaved repetitions of each side, after one untimed warm-up round; "
        f"each repetition times steps {args.warmup_steps + 1}–{args.steps} of {args.steps} ({timed} steps × {args.batch_size} images). "
        f"Both sides train from the same {args.steps} batches, materialised once from SamplePhotos' train dataloader "
        f"onto {args.device}: data loading and host-to-device copies are excluded from both."
    )
    print()
    print("\n".join(machine_lines()))


if __name__ == "__main__":
    main()
