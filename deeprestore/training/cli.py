"""``python train.py``: LightningCLI with YAML configs, W&B (offline by default) + CSV logging,
checkpoints under ``checkpoints/<experiment>/``.

Two ways to call it:

* ``python train.py fit|validate|test|predict [--config …] [options]``: LightningCLI's subcommands,
  as in any Lightning project (``test --ckpt_path <file>`` tests a checkpoint without training).
* ``python train.py [--config …] [options]`` (no subcommand): fit, then test the best checkpoint on
  the held-out split, then print the checkpoint, the config and the held-out SSIM. With no
  arguments at all this is the embedded default.

What a run starts from, before its own ``--config`` files and options (:func:`base_config_files`):

* ``configs/default.yaml`` (the embedded default: an inverting network for EfficientNet-Lite0 on the
  sample photos) when the command line names no ``--config`` and no model class;
* the run folder's own ``config.yaml`` when it names neither but gives a ``--ckpt_path`` inside a
  run folder (``python train.py --ckpt_path checkpoints/<run>/last.ckpt`` resumes any run);
* nothing otherwise: a config for another model class starts from that class's own defaults,
  Lightning's ``Trainer`` defaults and :class:`datamodules.SamplePhotos` as the data.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger, WandbLogger

from datamodules import CropDataModule
from deeprestore.atomic_io import atomic_write
from deeprestore.checkpoint_files import read_checkpoint
from deeprestore.cli_options import run_folder, writable_folder
from deeprestore.training.checkpoints import LIGHTNING_ALIASES, LastCheckpoint, best_checkpoint, check_checkpoint_fits
from deeprestore.training.run_config import SaveRunConfig

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT / "configs" / "default.yaml"
SUBCOMMANDS = ("fit", "validate", "test", "predict")
DEFAULT_DATA = "datamodules.SamplePhotos"


def _option_values(argv: Sequence[str], names: Sequence[str]) -> list[str | None]:
    """Values of ``--name value`` / ``--name=value`` for any of ``names`` (``None``: flag without value)."""
    values: list[str | None] = []
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name:
                values.append(argv[i + 1] if i + 1 < len(argv) else None)
            elif arg.startswith(name + "="):
                values.append(arg.split("=", 1)[1])
    return values


def base_config_files(argv: Sequence[str]) -> list[Path]:
    """The config files read before ``argv``'s own (see the module docstring)."""
    if _option_values(argv, ("--config", "-c")) or _option_values(argv, ("--model", "--model.class_path")):
        return []
    checkpoints = [v for v in _option_values(argv, ("--ckpt_path",)) if v and v not in LIGHTNING_ALIASES]
    if checkpoints:
        run_config = Path(checkpoints[-1]).parent / "config.yaml"
        if run_config.is_file():
            return [run_config]
    return [DEFAULT_CONFIG]


class DeepRestoreCLI(LightningCLI):
    """LightningCLI plus ``--experiment``, ``--checkpoint_root``, ``--wandb``, ``--monitor`` (and,
    without a subcommand, the options of ``Trainer.fit``: ``--ckpt_path`` to resume), the run
    folder and its two checkpoints."""

    def __init__(self, *args: Any, subcommands: bool = False, checkpoint: tuple[str, dict[str, Any]] | None = None, **kwargs: Any) -> None:
        self.with_subcommands = subcommands
        self._checkpoint = checkpoint  # (path, content) of the --ckpt_path file, read once before parsing
        super().__init__(*args, run=subcommands, **kwargs)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--experiment",
            type=str | None,
            default=None,
            help="run name; outputs go to <checkpoint_root>/<experiment>/ (default: <net>_<layer>_<mode>, / and : as -)",
        )
        parser.add_argument(
            "--checkpoint_root", type=str, default=str(ROOT / "checkpoints"), help="folder holding one sub-folder per experiment"
        )
        if not self.with_subcommands:  # fit's own options (--ckpt_path to resume …), as the fit subcommand has them
            parser.add_method_arguments(L.Trainer, "fit", skip={"model", "train_dataloaders", "val_dataloaders", "datamodule"})
        parser.add_argument("--wandb", type=Literal["offline", "online", "disabled"], default="offline", help="Weights & Biases mode")
        parser.add_argument("--wandb_project", type=str, default="deeprestore")
        parser.add_argument("--monitor", type=str, default="val/ssim", help="metric that picks the best checkpoint")
        parser.add_argument(
            "--monitor_mode", type=Literal["min", "max"], default="max", help="whether a lower or a higher --monitor is better"
        )
        parser.set_defaults({"data": {"class_path": DEFAULT_DATA}})

    @property
    def settings(self) -> Any:
        """The parsed options of this run (of its subcommand, if any)."""
        return self.config.get(str(self.subcommand), self.config)

    def experiment_name(self) -> str:
        cfg = self.settings
        if cfg.experiment:
            return cfg.experiment
        args = cfg.model.init_args
        parts = [args.get(k) for k in ("net", "layer", "mode") if args.get(k)]
        name = "_".join(map(str, parts)) or cfg.model.class_path.rsplit(".", 1)[-1]
        return name.replace("/", "-").replace(":", "-")  # torchvision/resnet50, my.module:net

    def run_folder(self) -> Path:
        """``<checkpoint_root>/<experiment>``, created; a clear error where it cannot be."""
        return writable_folder(run_folder(self.settings.checkpoint_root, self.experiment_name()), "--checkpoint_root/--experiment")

    def instantiate_classes(self) -> None:
        super().instantiate_classes()
        path = self.settings.get("ckpt_path")
        if path and path not in LIGHTNING_ALIASES:
            read = self._checkpoint[1] if self._checkpoint and self._checkpoint[0] == path else None
            check_checkpoint_fits(path, self.model, read)
        self._checkpoint = None  # Lightning reads the file itself to restore it

    def instantiate_trainer(self, **kwargs: Any) -> L.Trainer:
        cfg = self.settings
        stacked = getattr(self.model.hparams, "mode", None) == "stacked"
        if stacked and self.subcommand == "fit":
            raise ValueError(
                "a stacked model is assembled from parallel checkpoints, not trained: "
                "run `python train.py test …` or `python train.py …` without a subcommand"
            )
        check_data(self.datamodule, self.subcommand or ("test" if stacked else "fit"))
        folder = run_folder(self.settings.checkpoint_root, self.experiment_name())
        made = not folder.exists()
        run_dir = self.run_folder()
        try:
            return self._trainer_in(run_dir, cfg, kwargs)
        except Exception:
            if made and run_dir.is_dir() and not any(run_dir.iterdir()):
                run_dir.rmdir()  # a Trainer option refused: no empty experiment folder left behind
            raise

    def _trainer_in(self, run_dir: Path, cfg: Any, kwargs: dict[str, Any]) -> L.Trainer:
        """The Trainer writing to ``run_dir``: its loggers and checkpoint callbacks added."""
        kwargs["default_root_dir"] = str(run_dir)
        trainer_cfg = self._get(self.config_init, "trainer", default={})
        if trainer_cfg.get("logger") in (None, True):
            loggers: list = []
            if cfg.wandb != "disabled":
                # mode is also passed to wandb.init itself: WandbLogger(offline=True) only sets WANDB_MODE,
                # which a wandb session already set up in this process would not re-read
                loggers.append(
                    WandbLogger(
                        project=cfg.wandb_project, name=run_dir.name, save_dir=str(run_dir), offline=cfg.wandb == "offline", mode=cfg.wandb
                    )
                )
            loggers.append(CSVLogger(save_dir=str(run_dir), name="csv"))
            kwargs["logger"] = loggers
        has_checkpoint = any(isinstance(c, ModelCheckpoint) for c in trainer_cfg.get("callbacks") or [])
        if trainer_cfg.get("enable_checkpointing", True) is not False and not has_checkpoint:
            kwargs["callbacks"] = [
                *(trainer_cfg.get("callbacks") or []),
                best_checkpoint(run_dir, cfg.monitor, cfg.monitor_mode),
                LastCheckpoint(run_dir),
            ]
        return super().instantiate_trainer(**kwargs)

    # -- after the subcommands -----------------------------------------------------------------
    def after_fit(self) -> None:
        finish_wandb(self.trainer)
        if self.trainer.is_global_zero:
            callback = self.trainer.checkpoint_callback
            if callback is not None and callback.best_model_path:
                print(f"\nbest checkpoint: {callback.best_model_path}")
            print(f"last checkpoint: {Path(self.trainer.default_root_dir) / 'last.ckpt'}")
            print_skips(self.datamodule)

    def after_validate(self) -> None:
        self._print_results("val")

    def after_test(self) -> None:
        self._print_results("test")

    def _print_results(self, stage: str) -> None:
        finish_wandb(self.trainer)
        if self.trainer.is_global_zero:
            print_metrics({k: float(v) for k, v in self.trainer.callback_metrics.items()}, stage)
            print_skips(self.datamodule)


def check_data(datamodule: Any, stage: str) -> None:
    """Set up one of this project's data modules before the Trainer starts, so that a missing
    folder or an all-bad split is an error before any run folder, logger or process is made
    (their ``setup`` runs once; Lightning's own call then finds everything ready)."""
    if isinstance(datamodule, CropDataModule):
        datamodule.setup(stage)


def finish_wandb(trainer: L.Trainer) -> None:
    """Flush the W&B run (offline: ``wandb-summary.json``) before the summary is printed."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger) and trainer.is_global_zero:
            logger.experiment.finish()


def print_metrics(metrics: dict[str, float], stage: str = "test") -> None:
    """``held-out SSIM: … PSNR: … dB`` (or every ``<stage>/`` metric of models without SSIM)."""
    ssim, psnr = metrics.get(f"{stage}/ssim"), metrics.get(f"{stage}/psnr", float("nan"))
    label = "held-out" if stage == "test" else "validation"
    if ssim is not None:
        print(f"{label} SSIM: {ssim:.4f}   PSNR: {psnr:.2f} dB")
    elif metrics:
        print(f"{label}: " + "   ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items()) if k.startswith(f"{stage}/")))


def print_skips(datamodule: Any) -> None:
    """The data module's one-line total of used and skipped images, if it keeps one."""
    report = getattr(datamodule, "skip_report", None)
    if callable(report):
        print(report())


def build_cli(args: Sequence[str] | None = None) -> DeepRestoreCLI:
    """Parse ``args`` (default: ``sys.argv[1:]``) and instantiate model, data module and trainer;
    with a subcommand first (``fit`` …), also run it.

    Raises:
        argparse.ArgumentError: an unknown option or a value of the wrong type.
        ValueError, FileNotFoundError: a bad value, a missing file, a checkpoint that does not fit.
    """
    argv = list(sys.argv[1:] if args is None else args)
    subcommand = bool(argv) and argv[0] in SUBCOMMANDS
    paths = [p for p in _option_values(argv, ("--ckpt_path",)) if p and p not in LIGHTNING_ALIASES]
    # a missing or foreign file is one clear line before anything starts (the last --ckpt_path counts);
    # it is read as data unless the user vouches for it with Lightning's own --weights_only false
    trusted = any(str(v).lower() == "false" for v in _option_values(argv, ("--weights_only",)))
    checkpoint = (
        (paths[-1], read_checkpoint(paths[-1], "--ckpt_path", trusted=trusted, trust_option="--weights_only false")) if paths else None
    )
    defaults = {"default_config_files": [str(p) for p in base_config_files(argv[1:] if subcommand else argv)], "exit_on_error": False}
    parser_kwargs: dict[str, Any] = {"exit_on_error": False, **({s: dict(defaults) for s in SUBCOMMANDS} if subcommand else defaults)}
    return DeepRestoreCLI(
        L.LightningModule,
        L.LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        subcommands=subcommand,
        checkpoint=checkpoint,
        args=None if args is None else argv,  # None: LightningCLI reads sys.argv itself
        seed_everything_default=0,
        save_config_callback=SaveRunConfig,
        parser_kwargs=parser_kwargs,
    )


#: written into the run folder when ``python train.py`` (no subcommand) has fitted and tested
RESULTS_FILE = "results.json"


def fit_and_test(cli: DeepRestoreCLI) -> dict[str, float]:
    """Fit the CLI's model (unless it is a stacked assembly), test the best checkpoint, print a
    summary and write :data:`RESULTS_FILE` (checkpoint and test metrics) into the run folder.

    Returns:
        the test metrics of rank 0 (``test/ssim`` …).
    """
    model, data, trainer = cli.model, cli.datamodule, cli.trainer
    trains = getattr(model.hparams, "mode", None) != "stacked"
    if trains:
        fit_options = {k: cli.config[k] for k in ("ckpt_path", "weights_only") if k in cli.config}
        trainer.fit(model, data, **fit_options)
        callback = trainer.checkpoint_callback
        last = Path(trainer.default_root_dir) / "last.ckpt"
        best = (callback.best_model_path if callback else None) or (str(last) if last.is_file() else None)
        results = trainer.test(model, data, ckpt_path=best)
    else:
        results = trainer.test(model, data)
        best = str(Path(trainer.default_root_dir) / "stacked.ckpt")
        trainer.save_checkpoint(best)
    metrics = {k: float(v) for k, v in (results[0] if results else {}).items()}
    finish_wandb(trainer)
    if trainer.is_global_zero:
        text = json.dumps({"checkpoint": best, "test": metrics}, indent=2)
        atomic_write(Path(trainer.default_root_dir) / RESULTS_FILE, lambda f: f.write(text.encode()))
        print(f"\ncheckpoint: {best}")
        print(f"config:     {Path(trainer.default_root_dir) / 'config.yaml'}")
        print_metrics(metrics)
        print_skips(data)
    return metrics


def main(args: Sequence[str] | None = None) -> dict[str, float]:
    """One run of ``python train.py``: with a subcommand, LightningCLI runs it; without,
    :func:`fit_and_test`.

    Returns:
        the metrics of rank 0 at the end (``test/ssim`` …).
    """
    cli = build_cli(args)
    if cli.subcommand is not None:
        return {k: float(v) for k, v in cli.trainer.callback_metrics.items()}
    return fit_and_test(cli)
