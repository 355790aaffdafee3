"""Training entry point shared by ``train.py``: the LightningCLI, loggers, checkpoints, config
saving, and the sweep over layers."""

from deeprestore.training.cli import DeepRestoreCLI
from deeprestore.training.commands import main
from deeprestore.training.fast_paths import ChannelsLast, CompileModules

__all__ = ["ChannelsLast", "CompileModules", "DeepRestoreCLI", "main"]
