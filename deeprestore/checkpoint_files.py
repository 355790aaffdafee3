"""Reading checkpoint files a user names: a missing, foreign or mismatched file is one clear error.

Lightning's ``load_from_checkpoint`` fails on such files with whatever the failing layer raises
(``UnpicklingError``, a ``TypeError`` from ``__init__``, a ``RuntimeError`` listing every
mismatched tensor). These helpers turn all of them into a ``FileNotFoundError`` or a one-line
``ValueError`` that names the file and what it should have been.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import lightning as L
import torch

__all__ = ["load_module_checkpoint", "read_checkpoint"]

ModuleT = TypeVar("ModuleT", bound=L.LightningModule)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else 'no details'}"


def read_checkpoint(path: str | Path, option: str = "checkpoint") -> dict[str, Any]:
    """Load a Lightning checkpoint file on the CPU.

    Args:
        path: the file.
        option: how the message names it (``--ckpt_path``, ``--generator`` …).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a Lightning checkpoint (unreadable, or no ``state_dict``).
    """
    path = Path(path)
    if not path.is_file():
        hint = " (a run writes last.ckpt at the end of its first epoch)" if path.name == "last.ckpt" else ""
        raise FileNotFoundError(f"{option} {path}: no such checkpoint file{hint}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch.load of a foreign file raises anything: UnpicklingError, ValueError, EOFError …
        raise ValueError(f"{option} {path}: not a readable checkpoint ({_first_line(error)})") from error
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ValueError(f"{option} {path}: not a Lightning checkpoint (no state_dict)")
    return checkpoint


def load_module_checkpoint(cls: type[ModuleT], path: str | Path, option: str = "checkpoint", **kwargs: Any) -> ModuleT:
    """``cls.load_from_checkpoint(path, map_location="cpu", **kwargs)``, with clear errors.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a checkpoint, or not one of a ``cls`` (other class, other shapes).
    """
    checkpoint = read_checkpoint(path, option)
    saved = checkpoint.get("hyper_parameters", {}).get("_class_path")
    if saved and saved.rsplit(".", 1)[-1] != cls.__name__:
        raise ValueError(f"{option} {path}: holds a {saved}, expected a {cls.__module__}.{cls.__name__} checkpoint")
    try:
        return cls.load_from_checkpoint(path, map_location="cpu", **kwargs)
    except (RuntimeError, TypeError, KeyError) as error:  # state dict or hyper-parameters of another model
        raise ValueError(f"{option} {path}: not a checkpoint of this {cls.__name__} ({_first_line(error)})") from error
