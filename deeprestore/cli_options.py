"""Option helpers shared by the command lines (``train.py``, ``evaluate.py``, ``python -m deeprestore.stats``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
import yaml

__all__ = ["as_list", "as_paths", "resolve_device", "run_folder", "writable_folder"]


def _yaml_list(value: str) -> list[str] | None:
    """``value`` parsed as a YAML list (``"[a, b]"``), or ``None`` if it is not one."""
    if not value.strip().startswith("["):
        return None
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return None
    return [str(v) for v in parsed] if isinstance(parsed, list) else None


def as_list(values: Sequence[str] | None) -> list[str] | None:
    """A list option of names as given: space-separated values, or one ``[a, b]`` / ``a,b`` string.

    For file paths use :func:`as_paths`, which never splits at a comma.
    """
    if values is None:
        return None
    if len(values) == 1:
        parsed = _yaml_list(values[0])
        if parsed is not None:
            return parsed
        if "," in values[0]:
            return [v.strip() for v in values[0].split(",") if v.strip()]
    return [str(v) for v in values]


def as_paths(values: Sequence[str] | None) -> list[str] | None:
    """A list option of paths: space-separated values, or one ``[a, b]`` YAML list string.

    Every other value is one path, commas included (``"a,b.jpg"`` is a file name); a single
    value that names an existing file or folder is taken whole even if it looks like a list.
    """
    if values is None:
        return None
    if len(values) == 1 and not os.path.exists(values[0]):
        parsed = _yaml_list(values[0])
        if parsed is not None:
            return parsed
    return [str(v) for v in values]


def resolve_device(device: str) -> torch.device:
    """``auto`` → cuda if available, else cpu; anything else as given (checked).

    Raises:
        ValueError: an unknown device string, or CUDA asked for where there is none.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"--device {device}: not a device; use auto, cpu, cuda or cuda:<index>") from error
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device}: CUDA is not available on this machine")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif resolved.type != "cpu":
        raise ValueError(f"--device {device}: only cpu and cuda devices are supported")
    return resolved


def run_folder(root: str | Path, name: str, option: str = "--experiment") -> Path:
    """``<root>/<name>``: a run's output folder, which must stay under ``root`` — an absolute
    ``name`` or one that climbs out of the root (``../x``) is refused, so an experiment name never
    writes elsewhere on the disk.

    Raises:
        ValueError: ``name`` is empty, absolute, or leaves ``root``; the message names ``option``.
    """
    if not name or Path(name).is_absolute():
        raise ValueError(
            f"{option} {name!r}: a run name is a folder name under {root}, not {'an empty name' if not name else 'an absolute path'}"
        )
    folder = Path(root) / name
    inside = Path(os.path.abspath(folder)).is_relative_to(os.path.abspath(root))
    if not inside or ".." in Path(name).parts:
        raise ValueError(f"{option} {name!r}: a run name must stay under {root} (no '..')")
    return folder


def writable_folder(path: str | Path, option: str, *, create: bool = True) -> Path:
    """Check that the output folder ``path`` can be written, and create it (with its parents).

    With ``create=False`` nothing is made: the folder, or else its nearest existing parent, must
    be a writable folder (so a run can refuse a bad path before it writes anything).

    Raises:
        ValueError: ``path`` or a parent is a file, or the folder cannot be created or written;
            the message names ``option``.
    """
    path = Path(path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "is a file" if existing == path else f"is inside {existing}, which is a file"
        raise ValueError(f"{option} {path}: {where}, not a folder")
    if not os.access(existing, os.W_OK):
        raise ValueError(f"{option} {path}: {existing} is not writable")
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ValueError(f"{option} {path}: cannot create the folder ({error.strerror or error})") from error
    return path
