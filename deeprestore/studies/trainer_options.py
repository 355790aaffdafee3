"""The Trainer options of the studies that run through Lightning (``--trainer.devices`` …).

The same names as ``train.py``'s ``trainer`` section; a study's Trainer only predicts, so it has no
logger, checkpoints or model summary of its own (the study folder is its report), and runs with
``inference_mode=False`` so that the optimisation can take gradients. Its images are shared out by
the study (:class:`~deeprestore.studies.predict_job.ShareOfRanks`), not by Lightning's sampler,
and ``cudnn.benchmark`` is on: a study's batches have one shape per job, so cuDNN's autotuning
pays on the first batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L

__all__ = ["PRECISIONS", "TrainerOptions"]

#: The precisions a study runs in: float32, or Lightning's bf16 autocast (``bf16`` is its alias),
#: where only the networks run in bf16 and targets, priors, operators and scores stay float32.
PRECISIONS = ("32-true", "32", "bf16-mixed", "bf16")


@dataclass
class TrainerOptions:
    """Where the study's images are processed: Lightning's Trainer arguments.

    Args:
        accelerator: ``auto`` (a GPU if there is one), ``cpu``, ``gpu``, ``cuda`` …
        devices: devices per node (a count, a list of indices, or ``auto``).
        num_nodes: machines (SLURM and torchrun are detected by Lightning's cluster environments).
        strategy: ``auto``, ``ddp`` (one process per device; the images are shared out), ``ddp_spawn`` …
        precision: ``32-true`` (the default) or ``bf16-mixed`` (the networks in bf16 — the
            inversion's network pass, unless ``--execution.precision 32``, the generator — and the
            rest float32).
    """

    accelerator: str = "auto"
    devices: int | str | list[int] = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"

    def check(self) -> None:
        """Reject a precision the studies do not run in (one line)."""
        if str(self.precision) not in PRECISIONS:
            raise ValueError(f"--trainer.precision {self.precision!r}: the studies run in {' or '.join(PRECISIONS[::2])}")

    def make(self) -> L.Trainer:
        """A predict-only :class:`lightning.Trainer` (the studies draw their own progress bars)."""
        self.check()
        return L.Trainer(
            accelerator=self.accelerator,
            devices=self.devices,
            num_nodes=self.num_nodes,
            strategy=self.strategy,
            precision=self.precision,
            logger=False,
            enable_checkpointing=False,
            enable_model_summary=False,
            inference_mode=False,
            enable_progress_bar=False,
            use_distributed_sampler=False,
            benchmark=True,
        )
