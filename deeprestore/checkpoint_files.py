"""Reading checkpoint files: data, never code, and a missing, foreign or mismatched file is one clear error.

**Files are data.** A checkpoint is a pickle, and unpickling can run any code the file names
(a ``__reduce__`` calling ``os.system``). Every checkpoint is read with
``torch.load(weights_only=True)``: tensors, plain containers, numbers and strings, and the
types of :data:`SAFE_GLOBALS` — all that this project's checkpoints hold (Lightning's own
included). A file that needs anything else is refused in one line naming the types it asks for
(found by reading its pickle opcodes, without running them) and the file; a file the user named
can be loaded knowingly with the option the message gives (``trusted=True``: ``train.py
--weights_only false``, ``evaluate.py --trust_checkpoints true``). Files a study finds by itself
are never trusted.

Lightning's ``load_from_checkpoint`` fails on foreign files with whatever the failing layer
raises (``UnpicklingError``, a ``TypeError`` from ``__init__``, a ``RuntimeError`` listing every
mismatched tensor). These helpers turn all of them into a ``FileNotFoundError`` or a one-line
``ValueError`` that names the file and what it should have been.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, TypeVar

import lightning as L
import torch

__all__ = ["SAFE_GLOBALS", "TRUST_CHECKPOINTS", "load_module_checkpoint", "read_checkpoint"]

#: How a user of ``evaluate.py`` vouches for the checkpoint files named in its options.
TRUST_CHECKPOINTS = "--trust_checkpoints true"

#: Types allowed in a checkpoint beyond torch's own ``weights_only`` set. Empty: the project's
#: checkpoints (every ``train.py`` config, Lightning's callback and optimiser state included) hold
#: none; a type is added here only with a test that a checkpoint needs it.
SAFE_GLOBALS: tuple[type, ...] = ()

ModuleT = TypeVar("ModuleT", bound=L.LightningModule)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else 'no details'}"


def read_checkpoint(
    path: str | Path, option: str = "checkpoint", *, trusted: bool = False, trust_option: str | None = None
) -> dict[str, Any]:
    """Load a Lightning checkpoint file on the CPU, as data (see the module docstring).

    Args:
        path: the file.
        option: how the message names it (``--ckpt_path``, ``--generator`` …).
        trusted: the user vouched for this file: unpickle it whatever it holds.
        trust_option: how the user vouches for it, for the refusal's message (``None``: a file
            the program found by itself, which is never trusted).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a Lightning checkpoint (unreadable, truncated, no ``state_dict``), or one
            that needs types that could run code.
    """
    path = Path(path)
    if not path.is_file():
        hint = " (a run writes last.ckpt at the end of its first epoch)" if path.name == "last.ckpt" else ""
        raise FileNotFoundError(f"{option} {path}: no such checkpoint file{hint}")
    try:
        if trusted:
            checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        else:
            with torch.serialization.safe_globals(list(SAFE_GLOBALS)):
                checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        unsafe = _unsafe_globals(path)
        if not unsafe:
            raise ValueError(f"{option} {path}: not a readable checkpoint ({_first_line(error)})") from error
        how = f"; if you trust it, load it with {trust_option}" if trust_option else ""
        raise ValueError(f"{option} {path}: refused: unpickling it could run code (it needs {', '.join(unsafe)}){how}") from error
    except Exception as error:  # torch.load of a foreign or truncated file raises anything: ValueError, EOFError, RuntimeError …
        raise ValueError(f"{option} {path}: not a readable checkpoint: truncated, or another format ({_first_line(error)})") from error
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ValueError(f"{option} {path}: not a Lightning checkpoint (no state_dict)")
    return checkpoint


def _unsafe_globals(path: Path) -> list[str]:
    """The globals beyond the allowed ones that the file's pickle names (read, not run)."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # not a zip checkpoint at all
        return []
    allowed = {f"{t.__module__}.{t.__qualname__}" for t in SAFE_GLOBALS}
    return [name for name in names if name not in allowed]


def load_module_checkpoint(
    cls: type[ModuleT],
    path: str | Path,
    option: str = "checkpoint",
    *,
    trusted: bool = False,
    trust_option: str | None = None,
    **kwargs: Any,
) -> ModuleT:
    """``cls.load_from_checkpoint(path, map_location="cpu", **kwargs)``, as data (``weights_only``
    unless ``trusted``; see :func:`read_checkpoint`), with clear errors.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a checkpoint, one that needs types that could run code, or not one of a
            ``cls`` (other class, other shapes).
    """
    checkpoint = read_checkpoint(path, option, trusted=trusted, trust_option=trust_option)
    saved = checkpoint.get("hyper_parameters", {}).get("_class_path")
    if saved and saved.rsplit(".", 1)[-1] != cls.__name__:
        raise ValueError(f"{option} {path}: holds a {saved}, expected a {cls.__module__}.{cls.__name__} checkpoint")
    try:
        with torch.serialization.safe_globals(list(SAFE_GLOBALS)):
            return cls.load_from_checkpoint(path, map_location="cpu", weights_only=not trusted, **kwargs)
    except (RuntimeError, TypeError, KeyError) as error:  # state dict or hyper-parameters of another model
        raise ValueError(f"{option} {path}: not a checkpoint of this {cls.__name__} ({_first_line(error)})") from error
