"""Option helpers shared by the command lines (``evaluate.py``, ``python -m deeprestore.stats``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import yaml

__all__ = ["as_list", "resolve_device"]


def as_list(values: Sequence[str] | None) -> list[str] | None:
    """A list option as given: space-separated values, or one ``[a, b]`` / ``a,b`` string."""
    if values is None:
        return None
    if len(values) == 1 and values[0].strip().startswith("["):
        parsed = yaml.safe_load(values[0])
        return [str(v) for v in parsed or []]
    if len(values) == 1 and "," in values[0]:
        return [v.strip() for v in values[0].split(",") if v.strip()]
    return [str(v) for v in values]


def resolve_device(device: str) -> torch.device:
    """``auto`` → cuda if available, else cpu; anything else as given (checked)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: CUDA is not available on this machine")
    return resolved
