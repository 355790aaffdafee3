"""The report of the LP study: a markdown table and the figures of Lei et al. (2019, Section 5).

Input: rows with :data:`~deeprestore.studies.lp.experiments.LP_COLUMNS`, as the experiments return them
or as read back from ``lp_inversion.csv`` (strings).
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from deeprestore.metrics import save_figure
from deeprestore.studies.lp.experiments import SUCCESS_NOISE_FACTOR, SUCCESS_NOISELESS

__all__ = ["lp_figures", "lp_report"]


def _f(v) -> float:
    return float(v)


def _b(v) -> bool:
    return v if isinstance(v, bool) else str(v).strip().lower() in ("true", "1", "yes")


def _groups(rows: Sequence[Mapping], keys: Sequence[str]) -> dict[tuple, list[Mapping]]:
    out: dict[tuple, list[Mapping]] = {}
    for r in rows:
        out.setdefault(tuple(r[k] if k != "noise" else _f(r[k]) for k in keys), []).append(r)
    return out


def lp_report(rows: Sequence[Mapping]) -> str:
    """Markdown table per method × widths × noise: trials, median relative latent error, success
    rate, median seconds per sample (rows from the studies or read back from the CSV)."""
    lines = [
        f"Success: relative latent error < {SUCCESS_NOISELESS:g} (noiseless) or < {SUCCESS_NOISE_FACTOR:g} × noise (noisy).",
        "",
        "| method | widths | noise | n | median ‖ẑ−z‖/‖z‖ | success | median s/sample |",
        "|---|---|---|---|---|---|---|",
    ]
    for (method, widths, noise), sel in sorted(
        _groups(rows, ("method", "widths", "noise")).items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])
    ):
        errs = [_f(r["latent_rel_error"]) for r in sel]
        succ = sum(_b(r["success"]) for r in sel)
        lines.append(
            f"| {method} | {widths} | {noise:g} | {len(sel)} | {statistics.median(errs):.2e} | "
            f"{succ}/{len(sel)} ({100 * succ / len(sel):.0f}%) | {statistics.median(_f(r['seconds']) for r in sel):.3g} |"
        )
    return "\n".join(lines)


def _dims(widths: str) -> tuple[int, float, int] | None:
    """``(k, expansion, depth)`` of a fully connected ``widths`` string, None otherwise."""
    try:
        w = [int(p) for p in widths.split("-")]
    except ValueError:
        return None
    if len(w) < 2:
        return None
    return w[0], round(w[1] / w[0], 2), len(w) - 1


def lp_figures(rows: Sequence[Mapping], out_dir: str | os.PathLike[str]) -> list[Path]:
    """PNG figures of the studies, written atomically; a figure without data is skipped.

    * ``lp_error_vs_noise.png``: median relative latent error against noise (log-log, noise > 0),
      one line per method (× widths when several), with the line ``error = noise`` (on noisy data
      ``"lp"`` falls back to ℓ∞ at the layer where eq. 3 is infeasible, so it mostly equals ``"lp-linf"``);
    * ``lp_success_vs_latent_dim.png``: noiseless success rate against latent dimension ``k``, one
      line per method (colour) × expansion (line style) with at least two ``k`` (fully connected
      ``widths`` only);
    * ``lp_time_vs_latent_dim.png``: median seconds per sample against ``k``, same lines (log y).

    Returns:
        the paths written.
    """
    out_dir = Path(out_dir)
    written: list[Path] = []
    noisy = [r for r in rows if _f(r["noise"]) > 0]
    if noisy:
        several = len({r["widths"] for r in noisy}) > 1
        fig = Figure(figsize=(5.5, 4.0), layout="constrained")
        ax = fig.add_subplot()
        levels = sorted({_f(r["noise"]) for r in noisy})
        for (method, widths), sel in _groups(noisy, ("method", "widths")).items():
            by = _groups(sel, ("noise",))
            xs = [lv for lv in levels if (lv,) in by]
            ys = [max(statistics.median(_f(r["latent_rel_error"]) for r in by[(lv,)]), 1e-17) for lv in xs]
            ax.loglog(xs, ys, "o-", label=f"{method} {widths}" if several else method)
        ax.loglog(levels, levels, "k--", lw=0.8, label="error = noise")
        ax.set_xlabel("noise level ‖e‖/‖G(z)‖")
        ax.set_ylabel("median ‖ẑ − z‖ / ‖z‖")
        ax.set_title("Latent recovery under noise" + ("" if several else f" ({noisy[0]['widths']})"), fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        written.append(save_figure(fig, out_dir / "lp_error_vs_noise.png"))
    clean = [dict(r, _dims=_dims(str(r["widths"]))) for r in rows if _f(r["noise"]) == 0]
    clean = [r for r in clean if r["_dims"] is not None]
    if len({r["_dims"][0] for r in clean}) > 1 and any(
        len({r["_dims"][0] for r in clean if (r["method"], r["_dims"][1:]) == key}) > 1
        for key in {(r["method"], r["_dims"][1:]) for r in clean}
    ):
        lines: dict[tuple, dict[int, list[Mapping]]] = {}
        for r in clean:
            k, c, depth = r["_dims"]
            lines.setdefault((r["method"], c, depth), {}).setdefault(k, []).append(r)
        lines = {key: by_k for key, by_k in lines.items() if len(by_k) > 1}  # a line needs ≥ 2 dimensions
        depths = len({key[2] for key in lines}) > 1
        methods = sorted({key[0] for key in lines})
        expansions = sorted({key[1] for key in lines})
        styles = ["-", "--", ":", "-."]
        for name, ylabel, stat, logy in (
            ("lp_success_vs_latent_dim.png", "success rate", lambda sel: np.mean([_b(r["success"]) for r in sel]), False),
            ("lp_time_vs_latent_dim.png", "median seconds per sample", lambda sel: statistics.median(_f(r["seconds"]) for r in sel), True),
        ):
            fig = Figure(figsize=(5.5, 4.0), layout="constrained")
            ax = fig.add_subplot()
            for (method, c, depth), by_k in sorted(lines.items()):
                ks = sorted(by_k)
                label = f"{method}, {c:g}× expansion" + (f", depth {depth}" if depths else "")
                (ax.semilogy if logy else ax.plot)(
                    ks,
                    [stat(by_k[k]) for k in ks],
                    marker="o",
                    color=f"C{methods.index(method)}",
                    linestyle=styles[expansions.index(c) % len(styles)],
                    label=label,
                )
            ax.set_xlabel("latent dimension k")
            ax.set_ylabel(ylabel)
            if not logy:
                ax.set_ylim(-0.03, 1.03)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7)
            written.append(save_figure(fig, out_dir / name))
    return written
