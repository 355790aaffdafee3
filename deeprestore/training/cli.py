"""``python train.py``: LightningCLI with YAML configs, W&B (offline by default) + CSV logging,
checkpoints under ``checkpoints/<experiment>/``, resume with ``--ckpt_path``.

With no arguments it reads ``configs/default.yaml``: an inverting network for EfficientNet-Lite0
on the embedded sample photos. After training it tests the best checkpoint on the held-out split
and prints the checkpoint path and the held-out SSIM.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger, WandbLogger

from deeprestore.training.run_config import SaveRunConfig

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT / "configs" / "default.yaml"


class DeepRestoreCLI(LightningCLI):
    """LightningCLI plus ``--experiment``, ``--ckpt_path``, ``--checkpoint_root`` and ``--wandb``."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument("--experiment", type=str | None, default=None, help="run name; outputs go to <checkpoint_root>/<experiment>/ (default: <net>_<layer>_<mode>)")
        parser.add_argument("--checkpoint_root", type=str, default=str(ROOT / "checkpoints"), help="folder holding one sub-folder per experiment")
        parser.add_argument("--ckpt_path", type=str | None, default=None, help="resume training from this checkpoint (e.g. checkpoints/<experiment>/last.ckpt)")
        parser.add_argument("--wandb", type=str, default="offline", help="Weights & Biases mode: offline (default), online or disabled")
        parser.add_argument("--wandb_project", type=str, default="deeprestore")
        parser.add_argument("--monitor", type=str, default="val/ssim", help="metric that picks the best checkpoint")
        parser.add_argument("--monitor_mode", type=str, default="max")

    def experiment_name(self) -> str:
        if self.config.experiment:
            return self.config.experiment
        args = self.config.model.init_args
        parts = [args.get(k) for k in ("net", "layer", "mode") if args.get(k)]
        return "_".join(map(str, parts)) or Path(self.config.model.class_path).name

    def instantiate_trainer(self, **kwargs: Any) -> L.Trainer:
        cfg = self.config
        if cfg.wandb not in ("offline", "online", "disabled"):
            raise ValueError(f"--wandb must be offline, online or disabled, got {cfg.wandb!r}")
        name = self.experiment_name()
        run_dir = Path(cfg.checkpoint_root) / name
        run_dir.mkdir(parents=True, exist_ok=True)
        kwargs["default_root_dir"] = str(run_dir)
        trainer_cfg = self._get(self.config_init, "trainer", default={})
        if trainer_cfg.get("logger") in (None, True):
            loggers: list = []
            if cfg.wandb != "disabled":
                # mode is also passed to wandb.init itself: WandbLogger(offline=True) only sets WANDB_MODE,
                # which a wandb session already set up in this process would not re-read
                loggers.append(WandbLogger(project=cfg.wandb_project, name=name, save_dir=str(run_dir), offline=cfg.wandb == "offline", mode=cfg.wandb))
            loggers.append(CSVLogger(save_dir=str(run_dir), name="csv"))
            kwargs["logger"] = loggers
        has_checkpoint = any(isinstance(c, ModelCheckpoint) for c in trainer_cfg.get("callbacks") or [])
        if trainer_cfg.get("enable_checkpointing", True) is not False and not has_checkpoint:
            callbacks = list(trainer_cfg.get("callbacks") or [])
            callbacks.append(
                ModelCheckpoint(dirpath=str(run_dir), filename="best-epoch{epoch:03d}-step{step}", auto_insert_metric_name=False,
                                monitor=cfg.monitor, mode=cfg.monitor_mode, save_top_k=1, save_last=True)
            )
            kwargs["callbacks"] = callbacks
        return super().instantiate_trainer(**kwargs)


def build_cli(args: list[str] | None = None) -> DeepRestoreCLI:
    """Parse ``args`` (default: ``sys.argv``) over ``configs/default.yaml`` and instantiate the
    model, data module and trainer."""
    return DeepRestoreCLI(
        L.LightningModule,
        L.LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        run=False,
        args=args,
        seed_everything_default=0,
        save_config_callback=SaveRunConfig,
        parser_kwargs={"default_config_files": [str(DEFAULT_CONFIG)]},
    )


def main(args: list[str] | None = None) -> dict[str, float]:
    """Train (unless the model is a stacked assembly), test the best checkpoint, print a summary.

    Returns:
        the test metrics of rank 0 (``test/ssim`` …).
    """
    cli = build_cli(args)
    model, data, trainer = cli.model, cli.datamodule, cli.trainer
    trains = getattr(model.hparams, "mode", None) != "stacked"
    if trains:
        trainer.fit(model, data, ckpt_path=cli.config.ckpt_path)
        callback = trainer.checkpoint_callback
        best = (callback.best_model_path or callback.last_model_path) if callback else None
        results = trainer.test(model, data, ckpt_path=best or None)
    else:
        results = trainer.test(model, data)
        best = str(Path(trainer.default_root_dir) / "stacked.ckpt")
        trainer.save_checkpoint(best)
    metrics = {k: float(v) for k, v in (results[0] if results else {}).items()}
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger) and trainer.is_global_zero:
            logger.experiment.finish()  # flush the run (offline: wandb-summary.json) before printing
    if trainer.is_global_zero:
        print(f"\ncheckpoint: {best}")
        print(f"config:     {Path(trainer.default_root_dir) / 'config.yaml'}")
        if "test/ssim" in metrics:
            print(f"held-out SSIM: {metrics['test/ssim']:.4f}   PSNR: {metrics.get('test/psnr', float('nan')):.2f} dB")
        elif metrics:
            print("held-out: " + "   ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items())))
    return metrics
