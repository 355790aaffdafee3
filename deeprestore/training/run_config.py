"""Save a run's full configuration next to its checkpoints and in its loggers."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.cli import SaveConfigCallback

from deeprestore.atomic_io import atomic_write


class SaveRunConfig(SaveConfigCallback):
    """Write the whole resolved config into the run's ``default_root_dir`` and send it to every
    logger as hyper-parameters: ``config.yaml`` for a training run (rewritten by a resumed run),
    ``config_<stage>.yaml`` for ``validate``, ``test`` and ``predict``, so testing a checkpoint
    leaves the training run's config alone."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self.already_saved:
            return
        if trainer.is_global_zero:
            text = self.parser.dump(self.config, skip_none=False)
            stage = getattr(stage, "value", stage)  # Lightning passes a TrainerFn (a str enum)
            name = "config.yaml" if stage == "fit" else f"config_{stage}.yaml"
            atomic_write(Path(trainer.default_root_dir) / name, lambda f: f.write(text.encode()))
            flat = self.config.as_dict()
            for logger in trainer.loggers:
                logger.log_hyperparams({"config": flat})
        self.already_saved = True
