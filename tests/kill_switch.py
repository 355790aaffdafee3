"""A callback that kills its own process with SIGKILL at a given training batch, once.

Used by the resume tests through train.py's real command line (``--config`` with a
``trainer.callbacks`` entry): nothing is flushed, no hook runs, exactly like ``kill -9``. It kills
only if ``marker`` does not exist yet, and creates it first, so the resumed run (which reads the
same saved config) trains on.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback


class KillAt(Callback):
    def __init__(self, epoch: int, batch: int, marker: str) -> None:
        self.epoch, self.batch, self.marker = epoch, batch, Path(marker)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:  # noqa: ANN001
        if trainer.current_epoch == self.epoch and batch_idx == self.batch and not self.marker.exists():
            self.marker.write_text(f"killed at epoch {self.epoch}, batch {self.batch}\n")
            os.kill(os.getpid(), signal.SIGKILL)
