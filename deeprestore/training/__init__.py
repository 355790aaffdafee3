"""Training entry point shared by ``train.py``: the LightningCLI, loggers, checkpoints, config saving."""

from deeprestore.training.cli import DeepRestoreCLI, main

__all__ = ["DeepRestoreCLI", "main"]
