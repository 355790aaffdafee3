"""What the layer-wise LP inversion reports: the status and record of each layer solve.

Every solve of :func:`~deeprestore.generative.lp_inversion.invert_layer` returns a
:class:`LayerSolution` — the recovered ``x`` and a :class:`LayerSolveInfo` — and
:func:`~deeprestore.generative.lp_inversion.invert_layerwise` collects them per sample and layer in
an :class:`InversionDiagnostics`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

__all__ = ["OK_STATUSES", "Array", "InversionDiagnostics", "LayerSolution", "LayerSolveInfo", "SolveStatus"]

Array = np.ndarray


class SolveStatus(str, Enum):
    """How one layer solve ended (a ``str``: compares and prints as its value)."""

    EXACT = "exact"  #: noiseless solve, unique and consistent
    OK = "ok"  #: a noisy variant's threshold accepted
    FALLBACK = "fallback"  #: the noiseless LP infeasible, unbounded or inconsistent; the ℓ∞ variant accepted instead
    UNDERDETERMINED = "underdetermined"  #: rank of the equality rows < n: a consistent preimage, not unique
    INCONSISTENT = "inconsistent"  #: no threshold accepted
    FAILED = "failed"  #: solver error; ``x`` is NaN

    def __str__(self) -> str:
        return self.value


#: Statuses whose ``x`` is a trustworthy answer; ``underdetermined``, ``inconsistent`` and ``failed`` are not.
OK_STATUSES = (SolveStatus.EXACT, SolveStatus.OK, SolveStatus.FALLBACK)


@dataclass(frozen=True)
class LayerSolveInfo:
    """What happened when one layer of one sample was inverted.

    Attributes:
        method: ``"lp"`` (eq. 3), ``"lp-linf"``, ``"lp-l1"`` or ``"lstsq"`` — the solve that produced ``x``.
        status: how it ended (:class:`SolveStatus`).
        epsilon: the on/off threshold used (0 for the noiseless LP and non-ReLU layers).
        residual: ``max_i |σ(a_iᵀx + b_i) − y_i|`` of the returned ``x``.
        noise_estimate: the LP's misfit (ℓ∞: ``t*``; ℓ1: mean slack; 0 for the noiseless LP).
        rank: rank of the equality rows (ReLU: rows with ``y_i > ε``; otherwise all rows).
        n_on: number of equality rows.
        lp_status: scipy's status of the last LP (0 optimal, 2 infeasible, 3 unbounded, 4 numerical;
            ``-1`` for least squares).
        lps: number of LPs solved.
        message: why a fallback or failure happened.
    """

    method: str
    status: SolveStatus
    epsilon: float
    residual: float
    noise_estimate: float
    rank: int
    n_on: int
    lp_status: int
    lps: int
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES


@dataclass(frozen=True)
class LayerSolution:
    """``x``: the recovered input (``n``, float64) and its :class:`LayerSolveInfo`."""

    x: Array
    info: LayerSolveInfo


@dataclass
class InversionDiagnostics:
    """Per-sample, per-layer record of :func:`invert_layerwise`.

    Attributes:
        layers: the layer recovered at each step, from ``start_layer − 1`` down to ``end_layer``.
        solves: ``solves[i][j]``: sample ``i``, step ``j`` (shorter when a step failed).
        seconds: wall time per sample.
    """

    layers: tuple[int, ...]
    solves: list[list[LayerSolveInfo]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def ok(self) -> Array:
        """``N`` bools: every layer of the sample solved with an :data:`OK_STATUSES` status."""
        return np.array([len(s) == len(self.layers) and all(i.ok for i in s) for s in self.solves], dtype=bool)

    def status_counts(self) -> dict[str, int]:
        """How many layer solves ended in each status (by the status's name)."""
        counts: dict[str, int] = {}
        for s in self.solves:
            for info in s:
                counts[info.status.value] = counts.get(info.status.value, 0) + 1
        return counts

    def summary(self) -> str:
        """One line: samples OK and the status counts."""
        return f"{int(self.ok.sum())}/{len(self.solves)} samples OK; layer solves: {self.status_counts()}"
