"""Save a run's full configuration next to its checkpoints and in its loggers."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import lightning as L
from lightning.pytorch.cli import SaveConfigCallback


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class SaveRunConfig(SaveConfigCallback):
    """Write ``config.yaml`` (the whole resolved config) into the run's ``default_root_dir`` and
    send it to every logger as hyper-parameters. A resumed run rewrites it."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self.already_saved:
            return
        if trainer.is_global_zero:
            text = self.parser.dump(self.config, skip_none=False)
            write_text_atomic(Path(trainer.default_root_dir) / "config.yaml", text)
            flat = self.config.as_dict()
            for logger in trainer.loggers:
                logger.log_hyperparams({"config": flat})
        self.already_saved = True
