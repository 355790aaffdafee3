"""The Trainer options of the studies that run through Lightning (``--trainer.devices`` …).

The same names as ``train.py``'s ``trainer`` section; a study's Trainer only predicts, so it has no
logger, checkpoints or model summary of its own (the study folder is its report), and runs with
``inference_mode=False`` so that the optimisation can take gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L

__all__ = ["TrainerOptions"]


@dataclass
class TrainerOptions:
    """Where the study's images are processed: Lightning's Trainer arguments.

    Args:
        accelerator: ``auto`` (a GPU if there is one), ``cpu``, ``gpu``, ``cuda`` …
        devices: devices per node (a count, a list of indices, or ``auto``).
        num_nodes: machines (SLURM and torchrun are detected by Lightning's cluster environments).
        strategy: ``auto``, ``ddp`` (one process per device; the images are shared out), ``ddp_spawn`` …
        precision: ``32-true`` (the default); other precisions are Lightning's, e.g. ``bf16-mixed`` on GPUs.
    """

    accelerator: str = "auto"
    devices: int | str | list[int] = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"

    def make(self) -> L.Trainer:
        """A predict-only :class:`lightning.Trainer` (the studies draw their own progress bars)."""
        return L.Trainer(accelerator=self.accelerator, devices=self.devices, num_nodes=self.num_nodes, strategy=self.strategy,
                         precision=self.precision, logger=False, enable_checkpointing=False, enable_model_summary=False,
                         inference_mode=False, enable_progress_bar=False)
