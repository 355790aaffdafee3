"""``python train.py``'s commands: one run (LightningCLI), or ``sweep`` (one run per layer)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from deeprestore.training.cli import main as run_once
from deeprestore.training.sweep import run_sweep

__all__ = ["main"]


def main(args: Sequence[str] | None = None) -> dict[str, float]:
    """``python train.py sweep …`` → :func:`~deeprestore.training.sweep.run_sweep`; anything else
    → one run (:func:`deeprestore.training.cli.main`).

    Returns:
        the run's metrics (``test/ssim`` …), or the sweep's (``<layer>/test/ssim`` …).
    """
    argv = list(sys.argv[1:] if args is None else args)
    if argv and argv[0] == "sweep":
        return run_sweep(argv[1:])
    return run_once(args)  # None: LightningCLI reads the command line itself (given both, it warns)
