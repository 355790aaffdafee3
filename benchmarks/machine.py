"""The machine and date lines printed under every benchmark table (for BENCHMARKS.md), the table
itself, and a timer.

Imported by the scripts in this folder (``python benchmarks/<name>.py`` puts this folder on
``sys.path``); not a benchmark itself.
"""

from __future__ import annotations

import datetime as dt
import os
import platform

from deeprestore.metrics import markdown_table

__all__ = ["machine_lines", "markdown_table", "timed"]


def machine_lines() -> list[str]:
    """Markdown bullet lines: date, platform, Python/torch/Lightning versions, CPUs, GPU."""
    import lightning
    import torch

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = "none"
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        gpu = f"{torch.cuda.get_device_name(0)} ({props.total_memory / 2**30:.0f} GiB), CUDA {torch.version.cuda}"
    return [
        f"- date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- platform: {platform.platform()}; CPU: {platform.processor() or platform.machine()}",
        f"- CPUs: {os.cpu_count()} ({usable} usable by this process), torch threads: {torch.get_num_threads()}",
        f"- GPU: {gpu}",
        f"- Python {platform.python_version()}, torch {torch.__version__}, lightning {lightning.__version__}",
    ]


def timed(fn, device) -> float:
    """Seconds ``fn()`` takes on ``device`` (a ``torch.device``; CUDA work is waited for)."""
    import time

    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start
