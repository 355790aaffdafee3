"""The report of an inversion study: ``metrics.json``, ``report.md``, one plot per metric, W&B.

Input: the rows of :mod:`deeprestore.evaluation.inversion_study` (one per method, layer and
image). Output, beside ``metrics.csv`` in the study folder (every file written atomically):

* ``metrics.json``: the same rows as a JSON list (NaN/inf written as ``null``);
* ``plots/<metric>.png`` for ``mse psnr ssim feature_error top1_kept``: x = layers in network
  order, one line per method, mean ± sample standard deviation over the images (error bars);
* ``plots/layers_<image>.png`` for the first ``sweep_images`` images: the image reconstructed
  from every layer by every method (rows = methods, columns = layers), from the saved
  reconstructions;
* ``report.md``: the command and the config, a summary table (rows = layers, columns = methods,
  cells = mean SSIM), the plots and layer sweeps, one table per layer (mean ± std per method of every metric,
  top-1 kept rate, diverged images) with links to the grids, and the diverged images.

:func:`log_wandb` sends the same tables (``wandb.Table``) and the grids to a W&B run under
``<out>/wandb`` (offline by default); any W&B failure is reported, never fatal.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from matplotlib.figure import Figure

from deeprestore.atomic_io import atomic_write
from deeprestore.evaluation.figures import layer_sweep_figure, save_figure
from deeprestore.evaluation.inversion_study import ALL_COLUMNS, ORIGINALS_FILE, file_stem

__all__ = [
    "METRICS",
    "layer_sweep_figures",
    "layer_table",
    "log_wandb",
    "log_wandb_payload",
    "log_wandb_tables",
    "metric_plot",
    "ssim_summary_table",
    "stats",
    "write_metrics_json",
    "write_report",
]

Row = Mapping[str, Any]

#: metric → (label, format of a mean/std). ``top1_kept`` is a rate (fraction of the images).
METRICS: dict[str, tuple[str, str]] = {
    "mse": ("MSE", ".4g"),
    "psnr": ("PSNR (dB)", ".2f"),
    "ssim": ("SSIM", ".3f"),
    "feature_error": ("feature error", ".3f"),
    "top1_kept": ("top-1 kept", ".2f"),
}


# -- ordering and statistics --------------------------------------------------------------------
def ordered_layers(rows: Sequence[Row], layer_order: Sequence[str]) -> list[str]:
    """The layers present in ``rows``, in network order (unknown ones last, as they come)."""
    present = list(dict.fromkeys(r["layer"] for r in rows))
    rank = {name: i for i, name in enumerate(layer_order)}
    return sorted(present, key=lambda name: (rank.get(name, len(rank)), present.index(name)))


def ordered_methods(rows: Sequence[Row]) -> list[str]:
    """The methods present in ``rows``, in order of first appearance."""
    return list(dict.fromkeys(r["method"] for r in rows))


def select(rows: Sequence[Row], method: str, layer: str) -> list[Row]:
    """The rows of one ``(method, layer)``."""
    return [r for r in rows if r["method"] == method and r["layer"] == layer]


def stats(values: Sequence[float]) -> tuple[float, float, int]:
    """``(mean, sample std (0 for one value), n)`` of finite and non-finite values alike."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        return math.nan, math.nan, 0
    with np.errstate(invalid="ignore"):
        std = float(array.std(ddof=1)) if array.size > 1 else 0.0
    return float(array.mean()), std, int(array.size)


def _cell(values: Sequence[float], fmt: str) -> str:
    mean, std, n = stats(values)
    return "–" if n == 0 else f"{mean:{fmt}} ± {std:{fmt}}"


# -- tables -------------------------------------------------------------------------------------
def _markdown(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])


def layer_table(rows: Sequence[Row], layer: str, methods: Sequence[str]) -> str:
    """Markdown table of one layer: mean ± std per method of every metric, top-1 kept rate,
    diverged count."""
    header = ["method", "images"] + [METRICS[m][0] for m in ("mse", "psnr", "ssim", "feature_error")] + ["top-1 kept", "diverged"]
    body = []
    for method in methods:
        sel = select(rows, method, layer)
        if not sel:
            continue
        kept = sum(bool(r["top1_kept"]) for r in sel)
        cells = [_cell([float(r[m]) for r in sel], METRICS[m][1]) for m in ("mse", "psnr", "ssim", "feature_error")]
        diverged = sum(bool(r.get("diverged", False)) for r in sel)
        body.append([method, str(len(sel)), *cells, f"{kept / len(sel):.0%} ({kept}/{len(sel)})", str(diverged)])
    return _markdown(header, body)


def ssim_summary(rows: Sequence[Row], layer_order: Sequence[str]) -> tuple[list[str], list[str], list[list[float | None]]]:
    """``(layers, methods, mean SSIM [layer][method] or None)``."""
    layers, methods = ordered_layers(rows, layer_order), ordered_methods(rows)
    table = [[stats([float(r["ssim"]) for r in sel])[0] if (sel := select(rows, m, layer)) else None for m in methods] for layer in layers]
    return layers, methods, table


def ssim_summary_table(rows: Sequence[Row], layer_order: Sequence[str]) -> str:
    """Markdown table: rows = layers in network order, columns = methods, cells = mean SSIM."""
    layers, methods, table = ssim_summary(rows, layer_order)
    body = [[layer] + ["–" if v is None else f"{v:.3f}" for v in values] for layer, values in zip(layers, table)]
    return _markdown(["layer", *methods], body)


# -- plots --------------------------------------------------------------------------------------
def metric_plot(rows: Sequence[Row], metric: str, layer_order: Sequence[str]) -> Figure:
    """One metric against the layers (network order): a line per method, mean ± std error bars.

    Non-finite values (an infinite PSNR) are left out of the means. Uses the Figure API only
    (no pyplot state).
    """
    label = METRICS[metric][0]
    layers, methods = ordered_layers(rows, layer_order), ordered_methods(rows)
    fig = Figure(figsize=(max(5.0, 0.7 * len(layers) + 2.5), 3.6), layout="constrained")
    ax = fig.subplots()
    for i, method in enumerate(methods):
        shift = (i - (len(methods) - 1) / 2) * 0.06  # keep the error bars of the methods apart
        xs, means, stds = [], [], []
        for x, layer in enumerate(layers):
            values = [float(r[metric]) for r in select(rows, method, layer)]
            values = [v for v in values if math.isfinite(v)]
            if values:
                mean, std, _ = stats(values)
                xs.append(x + shift)
                means.append(mean)
                stds.append(std)
        if xs:
            ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=method)
    ax.set_xticks(range(len(layers)), layers, rotation=45 if len(layers) > 6 else 0)
    ax.set_xlabel("layer")
    ax.set_ylabel(label)
    ax.set_title(f"{label} by layer (mean ± std over images)", fontsize=10)
    ax.grid(alpha=0.3)
    if methods:
        ax.legend(fontsize=8)
    return fig


# -- files --------------------------------------------------------------------------------------
def _json_value(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def write_metrics_json(path: str | Path, rows: Sequence[Row]) -> Path:
    """The rows as a JSON list of objects (columns of ``metrics.csv``), written atomically."""
    data = [{c: _json_value(r[c]) for c in ALL_COLUMNS if c in r} for r in rows]
    text = json.dumps(data, indent=1, allow_nan=False)
    return atomic_write(path, lambda f: f.write(text.encode()))


def _write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda f: f.write(text.encode()))


def _header(config: Mapping[str, Any], command: str | None) -> list[str]:
    net = config.get("net", "?")
    lines = [f"# Inversion study: {net} ({config.get('weights', '?')} weights)", ""]
    if command:
        lines += ["Command:", "", "```", command, "```", ""]
    lines += [
        "Config: [config.yaml](config.yaml). Data: [metrics.csv](metrics.csv), [metrics.json](metrics.json).",
        "",
        "<details><summary>resolved config</summary>",
        "",
        "```yaml",
        yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True).rstrip(),
        "```",
        "",
        "</details>",
        "",
        "Every reconstruction x̂ is clamped to [0, 1] and compared with the original x: MSE, PSNR, "
        "SSIM (11×11 Gaussian window, as scikit-image), feature error ‖Φ(x̂) − Φ(x)‖ / ‖Φ(x)‖ at the "
        "target layer, top-1 kept = the network's top-1 class of x̂ is that of x. Cells are the "
        "mean ± sample standard deviation over the images.",
        "",
    ]
    return lines


def layer_sweep_figures(out: str | Path, rows: Sequence[Row], layer_order: Sequence[str], max_images: int = 2) -> list[Path]:
    """Write ``plots/layers_<image>.png`` for the first ``max_images`` images of the study.

    Reads ``reconstructions/originals.pt`` and ``reconstructions/<method>_<layer>.pt`` (written
    by :func:`~deeprestore.evaluation.inversion_study.run_study`); a study without them (or
    ``max_images = 0``) gets no figures. Returns the paths written.
    """
    out = Path(out)
    originals_path = out / "reconstructions" / ORIGINALS_FILE
    if max_images <= 0 or not originals_path.is_file():
        return []
    originals = torch.load(originals_path, map_location="cpu", weights_only=True)
    layers, methods = ordered_layers(rows, layer_order), ordered_methods(rows)
    recon: dict[str, dict[str, dict[str, torch.Tensor]]] = {}  # method → layer → image name → 3×H×W
    for method in methods:
        for layer in layers:
            path = out / "reconstructions" / f"{file_stem(method)}_{file_stem(layer)}.pt"
            if path.is_file():
                saved = torch.load(path, map_location="cpu", weights_only=True)
                for name, image in zip(saved["images"], saved["reconstructions"]):
                    recon.setdefault(method, {}).setdefault(layer, {})[name] = image
    written = []
    for name, original in list(zip(originals["images"], originals["originals"]))[:max_images]:
        per_method = {m: {lay: imgs[name] for lay, imgs in by_layer.items() if name in imgs} for m, by_layer in recon.items()}
        per_method = {m: v for m, v in per_method.items() if v}
        if per_method:
            fig = layer_sweep_figure(original, per_method, layers, title=name)
            written.append(save_figure(fig, out / "plots" / f"layers_{file_stem(name)}.png", dpi=100))
    return written


def write_report(
    out: str | Path,
    rows: Sequence[Row],
    layer_order: Sequence[str],
    *,
    config: Mapping[str, Any] | None = None,
    command: str | None = None,
    sweep_images: int = 2,
) -> Path:
    """Write ``metrics.json``, ``plots/<metric>.png``, ``plots/layers_<image>.png`` and
    ``report.md`` into ``out``.

    Args:
        out: the study folder (grids are linked from ``out/grids``).
        rows: the study's rows.
        layer_order: the network's layer names in forward order.
        config: the study's config (default: ``out/config.yaml`` if present).
        command: the command line that ran the study.
        sweep_images: images shown in a layer-sweep figure each.

    Returns:
        The path of ``report.md``.
    """
    out = Path(out)
    if config is None:
        path = out / "config.yaml"
        config = yaml.safe_load(path.read_text()) if path.is_file() else {}
    write_metrics_json(out / "metrics.json", rows)
    for metric in METRICS:
        save_figure(metric_plot(rows, metric, layer_order), out / "plots" / f"{metric}.png")
    layers, methods = ordered_layers(rows, layer_order), ordered_methods(rows)
    lines = _header(config, command)
    lines += ["## Summary: mean SSIM", "", ssim_summary_table(rows, layer_order), ""]
    lines += ["## Plots", ""] + [f"![{METRICS[m][0]}](plots/{m}.png)" for m in METRICS] + [""]
    sweeps = layer_sweep_figures(out, rows, layer_order, sweep_images)
    if sweeps:
        lines += ["## Reconstructions by layer", ""] + [f"![{p.stem}](plots/{p.name})" for p in sweeps] + [""]
    for layer in layers:
        lines += [f"## Layer {layer}", "", layer_table(rows, layer, methods), ""]
        grids = [(m, f"grids/{file_stem(m)}_{file_stem(layer)}.png") for m in methods if select(rows, m, layer)]
        links = [f"[{m}]({p})" for m, p in grids if (out / p).is_file()]
        if links:
            lines += ["Grids (original | reconstruction | difference | |difference|): " + " · ".join(links), ""]
    diverged = [r for r in rows if r.get("diverged")]
    lines += ["## Diverged images", ""]
    lines += [f"- {r['method']} {r['layer']} {r['image']}" for r in diverged] or ["none"]
    return _write_text(out / "report.md", "\n".join(lines) + "\n")


# -- Weights & Biases ---------------------------------------------------------------------------
def log_wandb(
    out: str | Path,
    rows: Sequence[Row],
    layer_order: Sequence[str],
    *,
    mode: str = "offline",
    config: Mapping[str, Any] | None = None,
    name: str | None = None,
    project: str = "deeprestore",
) -> str | None:
    """Log the rows (``wandb.Table``), the per-layer means, the SSIM summary and the grids.

    The run goes to ``<out>/wandb``. Returns ``None`` on success (or when ``mode`` is
    ``disabled``), else a message saying why nothing was logged: W&B is optional.
    """
    return log_wandb_payload(out, lambda wandb: _wandb_payload(wandb, Path(out), rows, layer_order), mode=mode,
                             config=config, name=name, project=project)


def log_wandb_tables(
    out: str | Path,
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    figures: Sequence[Path] = (),
    *,
    mode: str = "offline",
    config: Mapping[str, Any] | None = None,
    name: str | None = None,
    project: str = "deeprestore",
) -> str | None:
    """Log each list of rows as a ``wandb.Table`` under its key and each figure as
    ``plots/<stem>`` (the generative studies); same contract as :func:`log_wandb`."""

    def payload(wandb: Any) -> dict[str, Any]:
        logged: dict[str, Any] = {}
        for key, rows in tables.items():
            if rows:
                columns = list(rows[0])
                logged[key] = wandb.Table(columns=columns, data=[[r[c] for c in columns] for r in rows])
        for path in figures:
            logged[f"plots/{Path(path).stem}"] = wandb.Image(str(path))
        return logged

    return log_wandb_payload(out, payload, mode=mode, config=config, name=name, project=project)


def log_wandb_payload(
    out: str | Path,
    make_payload: Callable[[Any], dict[str, Any]],
    *,
    mode: str = "offline",
    config: Mapping[str, Any] | None = None,
    name: str | None = None,
    project: str = "deeprestore",
) -> str | None:
    """One W&B run in ``<out>/wandb`` logging ``make_payload(wandb)`` once. Returns ``None`` on
    success (or when ``mode`` is ``disabled``), else a message saying why nothing was logged."""
    if mode == "disabled":
        return None
    if mode not in ("offline", "online"):
        return f"unknown W&B mode {mode!r}"
    out = Path(out)
    try:
        import wandb

        out.mkdir(parents=True, exist_ok=True)
        run = wandb.init(project=project, name=name, dir=str(out), mode=mode, config=dict(config or {}),
                         job_type="evaluate", reinit="create_new", settings=wandb.Settings(silent=True))
        try:
            run.log(make_payload(wandb))
        finally:
            run.finish()
    except Exception as error:  # W&B is optional: the files on disk are the report
        return f"W&B logging failed ({type(error).__name__}: {error}); the report on disk is complete"
    return None


def _wandb_payload(wandb: Any, out: Path, rows: Sequence[Row], layer_order: Sequence[str]) -> dict[str, Any]:
    """``wandb.log`` payload: ``metrics`` (every row), ``means`` (per method and layer),
    ``ssim_summary`` (layers × methods), ``grids/<method>_<layer>`` and ``layers/<image>`` images."""
    columns = [c for c in ALL_COLUMNS if rows and c in rows[0]]
    payload: dict[str, Any] = {"metrics": wandb.Table(columns=columns, data=[[r[c] for c in columns] for r in rows])}
    layers, methods = ordered_layers(rows, layer_order), ordered_methods(rows)
    mean_cols = ["method", "layer", "images"] + [f"{m}_{s}" for m in METRICS for s in ("mean", "std")]
    means = []
    for layer in layers:
        for method in methods:
            sel = select(rows, method, layer)
            if sel:
                values = [v for m in METRICS for v in stats([float(r[m]) for r in sel])[:2]]
                means.append([method, layer, len(sel), *values])
    payload["means"] = wandb.Table(columns=mean_cols, data=means)
    _, _, table = ssim_summary(rows, layer_order)
    payload["ssim_summary"] = wandb.Table(columns=["layer", *methods], data=[[layer, *v] for layer, v in zip(layers, table)])
    for method in methods:
        for layer in layers:
            path = out / "grids" / f"{file_stem(method)}_{file_stem(layer)}.png"
            if path.is_file():
                payload[f"grids/{method}_{layer}"] = wandb.Image(str(path), caption="original | reconstruction | difference | |difference|")
    for path in sorted((out / "plots").glob("layers_*.png")):
        payload[f"layers/{path.stem.removeprefix('layers_')}"] = wandb.Image(str(path), caption="rows: methods, columns: layers")
    return payload
