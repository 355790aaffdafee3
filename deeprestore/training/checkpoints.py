"""Checkpoints of a training run: the best one by a metric, ``last.ckpt`` after every epoch, and the
check that a checkpoint given with ``--ckpt_path`` fits the model before Lightning loads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

from deeprestore.checkpoint_files import read_checkpoint
from deeprestore.nets.frozen_checkpoints import FrozenNetCheckpoints

__all__ = ["LIGHTNING_ALIASES", "LastCheckpoint", "best_checkpoint", "check_checkpoint_fits"]

#: ``--ckpt_path`` values that Lightning resolves itself (``test --ckpt_path best`` after a fit …).
LIGHTNING_ALIASES = ("best", "last", "hpc", "registry")


class LastCheckpoint(ModelCheckpoint):
    """``<dirpath>/last.ckpt``, rewritten at the end of every training epoch and at the end of fit,
    whether or not the epoch validated or improved a metric.

    Lightning's ``ModelCheckpoint(save_last=True, monitor=…)`` writes ``last.ckpt`` only when it
    also writes a monitored checkpoint, so a run killed before its first validation left nothing to
    resume from, and a finished run's ``last.ckpt`` could be epochs old. A run killed at any point
    after its first epoch resumes from here and, with the seeded data order, ends where an
    uninterrupted run ends.
    """

    def __init__(self, dirpath: str | Path) -> None:
        super().__init__(
            dirpath=str(dirpath), monitor=None, save_top_k=0, save_last=True, save_on_train_epoch_end=True, enable_version_counter=False
        )

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Also after a stop inside an epoch (``max_steps``, ``max_time``, early stopping)."""
        if not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))


def best_checkpoint(dirpath: str | Path, monitor: str, mode: str) -> ModelCheckpoint:
    """``best-epoch<NNN>-step<S>.ckpt``: the one checkpoint with the best ``monitor`` so far."""
    return ModelCheckpoint(
        dirpath=str(dirpath),
        filename="best-epoch{epoch:03d}-step{step}",
        auto_insert_metric_name=False,
        monitor=monitor,
        mode=mode,
        save_top_k=1,
        save_last=False,
    )


def check_checkpoint_fits(path: str | Path, model: L.LightningModule, checkpoint: dict[str, Any] | None = None) -> None:
    """Refuse a checkpoint whose weights do not fit ``model`` (another class, layer or width).

    ``checkpoint`` is the file's content if it was read already. The frozen networks of a :class:`~deeprestore.nets.frozen_checkpoints.FrozenNetCheckpoints`
    module are not stored in its checkpoints, so they are left out of the comparison.

    Raises:
        FileNotFoundError, ValueError: see :func:`~deeprestore.checkpoint_files.read_checkpoint`; a
            class, key or shape mismatch.
    """
    checkpoint = read_checkpoint(path, "--ckpt_path") if checkpoint is None else checkpoint
    stored = checkpoint["state_dict"]
    saved_class = checkpoint.get("hyper_parameters", {}).get("_class_path")
    own_class = f"{type(model).__module__}.{type(model).__qualname__}"
    expected = model.state_dict()
    if isinstance(model, FrozenNetCheckpoints):
        expected = {k: v for k, v in expected.items() if not model.frozen_key(k)}
        stored = {k: v for k, v in stored.items() if not model.frozen_key(k)}
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    shapes = [k for k in sorted(set(expected) & set(stored)) if tuple(expected[k].shape) != tuple(stored[k].shape)]
    if not (missing or unexpected or shapes):
        return
    problems = []
    if saved_class and saved_class.rsplit(".", 1)[-1] != type(model).__qualname__:
        problems.append(f"it holds a {saved_class}, the config builds a {own_class}")
    if missing:
        problems.append(f"{len(missing)} weights missing (e.g. {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected weights (e.g. {unexpected[0]})")
    if shapes:
        key = shapes[0]
        problems.append(
            f"{len(shapes)} of another shape (e.g. {key}: {tuple(stored[key].shape)} stored, {tuple(expected[key].shape)} in the model)"
        )
    raise ValueError(f"--ckpt_path {path} does not fit the model of this config: {'; '.join(problems)}")
