"""The leaderboard: every method of an inversion study, per layer, on one page.

Per layer, one row per method with its mean SSIM, PSNR, feature error, verifier agreement (the
mean over the verifiers of their top-1 agreement with the original; "–" without verifiers) and
seconds per image; the best value of each column is in bold (highest SSIM, PSNR and agreement,
lowest feature error and seconds). Methods are sorted by feature error, the quantity an inversion
minimises. The same rows go to W&B as one table (:func:`leaderboard_rows`).

``python evaluate.py --config configs/evaluate/leaderboard.yaml`` runs every method and writes
``docs/leaderboard.md`` (the study's ``--leaderboard`` option) with the command and the date.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from deeprestore.metrics import markdown_table
from deeprestore.studies.inversion.report import ordered_layers, ordered_methods, select, verifier_names
from deeprestore.studies.inversion.scoring import Row

__all__ = ["LEADERBOARD_COLUMNS", "leaderboard_markdown", "leaderboard_rows"]

#: column → (heading, format, whether higher is better)
LEADERBOARD_COLUMNS: dict[str, tuple[str, str, bool]] = {
    "ssim": ("SSIM", ".3f", True),
    "psnr": ("PSNR (dB)", ".2f", True),
    "feature_error": ("feature error", ".3f", False),
    "verifier_agreement": ("verifier top-1 agreement", ".2f", True),
    "seconds": ("s / image", ".2f", False),
}


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def leaderboard_rows(rows: Sequence[Row], layer_order: Sequence[str]) -> list[dict[str, object]]:
    """``{layer, method, images, ssim, psnr, feature_error, verifier_agreement, seconds}`` per
    (layer, method), means over the images; layers in network order, methods by feature error."""
    verifiers = verifier_names(rows)
    out: list[dict[str, object]] = []
    for layer in ordered_layers(rows, layer_order):
        board = []
        for method in ordered_methods(rows):
            sel = select(rows, method, layer)
            if not sel:
                continue
            entry: dict[str, object] = {"layer": layer, "method": method, "images": len(sel)}
            for column in ("ssim", "psnr", "feature_error", "seconds"):
                entry[column] = _mean([float(r[column]) for r in sel])
            flags = [float(bool(r[f"{v}_top1_kept"])) for v in verifiers for r in sel]
            entry["verifier_agreement"] = _mean(flags) if verifiers else math.nan
            board.append(entry)
        out += sorted(board, key=lambda e: float(e["feature_error"]))  # type: ignore[arg-type]
    return out


def leaderboard_markdown(rows: Sequence[Row], layer_order: Sequence[str], *, title: str, command: str, date: str) -> str:
    """The page: a table per layer (best of each column in bold), with ``command`` and ``date``."""
    board = leaderboard_rows(rows, layer_order)
    verifiers = verifier_names(rows)
    images = len({r["image"] for r in rows})
    lines = [
        f"# {title}",
        "",
        f"{images} images; means per method. Made by `{command}` on {date}. Best of each column in bold; rows sorted by "
        "feature error. Verifier agreement: "
        + (f"top-1 agreement with the original, mean over {', '.join(verifiers)}." if verifiers else "no verifiers."),
    ]
    for layer in dict.fromkeys(str(e["layer"]) for e in board):
        entries = [e for e in board if e["layer"] == layer]
        best = {}
        for column, (_, _, higher) in LEADERBOARD_COLUMNS.items():
            values = [float(e[column]) for e in entries if not math.isnan(float(e[column]))]  # type: ignore[arg-type]
            best[column] = (max if higher else min)(values) if values else None
        body = []
        for e in entries:
            cells = []
            for column, (_, fmt, _) in LEADERBOARD_COLUMNS.items():
                value = float(e[column])  # type: ignore[arg-type]
                text = "–" if math.isnan(value) else format(value, fmt)
                cells.append(f"**{text}**" if best[column] is not None and format(value, fmt) == format(best[column], fmt) else text)
            body.append([e["method"], e["images"], *cells])
        header = ["method", "images", *(heading for heading, _, _ in LEADERBOARD_COLUMNS.values())]
        lines += ["", f"## {layer}", "", markdown_table(header, body)]
    return "\n".join(lines) + "\n"
