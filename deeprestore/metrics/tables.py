"""Summary statistics and markdown tables, the one way every study's report writes them."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["markdown_table", "mean_std"]


def mean_std(values: Sequence[float]) -> tuple[float, float, int]:
    """``(mean, sample standard deviation (0 for one value), n)``; NaNs for no values."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        return math.nan, math.nan, 0
    with np.errstate(invalid="ignore"):
        std = float(array.std(ddof=1)) if array.size > 1 else 0.0
    return float(array.mean()), std, int(array.size)


def markdown_table(header: Sequence[str], body: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table; cells are written with ``str``."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(map(str, row)) + " |" for row in body])
