"""The report of the inversion study: plots, layer sweeps, tables, and what W&B receives.

From the rows of :mod:`.scoring` (one per method, layer and image), beside ``metrics.csv``:

* ``plots/<metric>.png`` for ``mse psnr ssim feature_error top1_kept``: x = layers in network
  order, one line per method, mean ± sample standard deviation over the images (error bars);
* ``plots/layers_<image>.png`` for the first ``sweep_images`` images: the image reconstructed
  from every layer by every method (rows = methods, columns = layers), from the saved
  reconstructions;
* the sections of ``report.md``: a summary table (rows = layers, columns = methods, cells = mean
  SSIM), the plots and layer sweeps, per layer a table of mean ± std per method of every metric
  (top-1 kept and correct rates, the verifiers' agreement and confidence, the perceptual
  distances LPIPS / DISTS where they were scored, diverged images) and a table of per-image evidence (the worst
  image, the share of images with feature error ≤ 0.15 and ≤ 0.25, the share beating
  ``gd-plain``'s SSIM on the same image), with links to the grids, the diverged images, and the
  settings: each optimisation method's data weight C per layer and where it comes from.

W&B: after each job its rows (``wandb.Table``) and grid (:func:`wandb_job_payload`); at the end
every row, the per-layer means, the SSIM summary, the layer sweeps and a table of per-image
originals and reconstructions by method and layer (:func:`wandb_study_payload`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure

from deeprestore.metrics import PERCEPTUAL_METRICS, layer_sweep_figure, markdown_table, mean_std, save_figure
from deeprestore.studies.inversion.scoring import COLUMNS, perceptual_columns
from deeprestore.studies.study_folder import file_stem

__all__ = [
    "METRICS",
    "ORIGINALS_FILE",
    "evidence_table",
    "layer_table",
    "metric_plot",
    "perceptual_names",
    "report_sections",
    "settings_section",
    "verifier_names",
    "ssim_summary_table",
    "wandb_job_payload",
    "wandb_study_payload",
]

Row = Mapping[str, Any]

#: the study's originals, ``{"images": names, "originals": N×3×H×W}``, beside the reconstructions
ORIGINALS_FILE = "originals.pt"
#: metric → (label, format of a mean/std). ``top1_kept`` is a rate (fraction of the images).
METRICS: dict[str, tuple[str, str]] = {
    "mse": ("MSE", ".4g"),
    "psnr": ("PSNR (dB)", ".2f"),
    "ssim": ("SSIM", ".3f"),
    "feature_error": ("feature error", ".3f"),
    "sharpness": ("sharpness", ".2f"),
    "top1_kept": ("top-1 kept", ".2f"),
    "seconds": ("s / image", ".2f"),
}
SCORE_EXPLANATION = (
    "Every reconstruction x̂ is clamped to [0, 1] and compared with the original x: MSE, PSNR, SSIM (11×11 Gaussian "
    "window, as scikit-image), feature error ‖Φ(x̂) − Φ(x)‖ / ‖Φ(x)‖ at the target layer, sharpness = the high-frequency energy ratio E_hf(x̂) / E_hf(x) (frequencies above a quarter cycle per pixel; 1 = the original's fine detail, below 1 blurred, above 1 noisier), top-1 kept = the network's "
    "top-1 class of x̂ is that of x, top-1 correct = the network is right on x (images with a label), s / image = "
    "the method's wall time per image (its batch's time over the batch size, on the study's device). Cells are the "
    "mean ± sample standard deviation over the images."
)


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


def _cell(values: Sequence[float], fmt: str) -> str:
    mean, std, n = mean_std(values)
    return "–" if n == 0 else f"{mean:{fmt}} ± {std:{fmt}}"


def _rate(flags: Sequence[bool | None]) -> str:
    known = [bool(f) for f in flags if f is not None]
    return "–" if not known else f"{sum(known) / len(known):.0%} ({sum(known)}/{len(known)})"


#: feature-error thresholds of the per-image evidence (share of images at or below each)
FEATURE_ERROR_THRESHOLDS = (0.15, 0.25)


def verifier_names(rows: Sequence[Row]) -> list[str]:
    """The verifiers whose columns the rows have (``<name>_top1_kept``), in column order."""
    keys = rows[0].keys() if rows else []
    return [k.removesuffix("_top1_kept") for k in keys if k.endswith("_top1_kept") and k != "top1_kept"]


#: the perceptual metrics' columns → their label in the report
PERCEPTUAL_LABELS: dict[str, str] = dict(zip(perceptual_columns(PERCEPTUAL_METRICS), ("LPIPS (AlexNet)", "LPIPS (VGG16)", "DISTS")))
PERCEPTUAL_EXPLANATION = (
    "LPIPS (Zhang et al. 2018) and DISTS (Ding et al. 2020) are perceptual distances of x̂ to x on an ImageNet "
    "network's features (lower = more similar, 0 = the same image)."
)


def perceptual_names(rows: Sequence[Row]) -> list[str]:
    """The perceptual metrics' columns the rows have (``lpips_alex``, ``dists`` …), in column order."""
    keys = rows[0].keys() if rows else []
    return [k for k in keys if k in PERCEPTUAL_LABELS]


def layer_table(rows: Sequence[Row], layer: str, methods: Sequence[str]) -> str:
    """One layer: mean ± std per method of every metric, top-1 kept and correct rates, each
    verifier's top-1 agreement and mean confidence, each perceptual distance (mean ± std), diverged count."""
    shown = ("mse", "psnr", "ssim", "feature_error", "sharpness")
    verifiers, perceptual = verifier_names(rows), perceptual_names(rows)
    header = ["method", "images"] + [METRICS[m][0] for m in shown] + ["top-1 kept", "top-1 correct"]
    header += [f"{v} {what}" for v in verifiers for what in ("top-1 kept", "confidence")]
    header += [PERCEPTUAL_LABELS[p] for p in perceptual] + ["diverged", METRICS["seconds"][0]]
    body = []
    for method in methods:
        sel = select(rows, method, layer)
        if sel:
            cells = [_cell([float(r[m]) for r in sel], METRICS[m][1]) for m in shown]
            body.append(
                [
                    method,
                    len(sel),
                    *cells,
                    _rate([r["top1_kept"] for r in sel]),
                    _rate([r.get("top1_correct") for r in sel]),
                    *(
                        cell
                        for v in verifiers
                        for cell in (_rate([r[f"{v}_top1_kept"] for r in sel]), f"{sum(r[f'{v}_confidence'] for r in sel) / len(sel):.2f}")
                    ),
                    *(_cell([float(r[p]) for r in sel], ".3f") for p in perceptual),
                    sum(bool(r.get("diverged")) for r in sel),
                    f"{sum(float(r['seconds']) for r in sel) / len(sel):.2f}",
                ]
            )
    return markdown_table(header, body)


def evidence_table(rows: Sequence[Row], layer: str, methods: Sequence[str], reference: str | None = "gd-plain") -> str:
    """Per-image evidence at one layer, per method: the worst image by feature error and by SSIM,
    the share of images with a feature error at or below each of :data:`FEATURE_ERROR_THRESHOLDS`,
    and the share whose SSIM is above ``reference``'s on the same image (where it ran)."""
    by_image = {r["image"]: float(r["ssim"]) for r in select(rows, reference, layer)} if reference else {}
    header = ["method", "worst feature error (image)", "worst SSIM (image)"]
    header += [f"feature error ≤ {t:g}" for t in FEATURE_ERROR_THRESHOLDS] + ([f"SSIM > {reference}'s"] if by_image else [])
    body = []
    for method in methods:
        sel = select(rows, method, layer)
        if not sel:
            continue
        worst_fe = max(sel, key=lambda r: float(r["feature_error"]))
        worst_ssim = min(sel, key=lambda r: float(r["ssim"]))
        cells = [
            f"{float(worst_fe['feature_error']):.3f} ({worst_fe['image']})",
            f"{float(worst_ssim['ssim']):.3f} ({worst_ssim['image']})",
        ]
        cells += [_rate([float(r["feature_error"]) <= t for r in sel]) for t in FEATURE_ERROR_THRESHOLDS]
        if by_image:
            cells.append(
                "–"
                if method == reference
                else _rate([float(r["ssim"]) > by_image[r["image"]] if r["image"] in by_image else None for r in sel])
            )
        body.append([method, *cells])
    return markdown_table(header, body)


def ssim_summary(rows: Sequence[Row], layer_order: Sequence[str]) -> tuple[list[str], list[str], list[list[float | None]]]:
    """``(layers, methods, mean SSIM [layer][method] or None)``."""
    layers, methods = ordered_layers(rows, layer_order), ordered_methods(rows)
    table = [
        [mean_std([float(r["ssim"]) for r in sel])[0] if (sel := select(rows, m, layer)) else None for m in methods] for layer in layers
    ]
    return layers, methods, table


def ssim_summary_table(rows: Sequence[Row], layer_order: Sequence[str]) -> str:
    """Rows = layers in network order, columns = methods, cells = mean SSIM."""
    layers, methods, table = ssim_summary(rows, layer_order)
    return markdown_table(
        ["layer", *methods], [[layer] + ["–" if v is None else f"{v:.3f}" for v in values] for layer, values in zip(layers, table)]
    )


def metric_plot(rows: Sequence[Row], metric: str, layer_order: Sequence[str]) -> Figure:
    """One metric against the layers (network order): a line per method, mean ± std error bars.

    Non-finite values (an infinite PSNR) are left out of the means. Uses the Figure API only.
    """
    label = METRICS[metric][0]
    layers, methods = ordered_layers(rows, layer_order), ordered_methods(rows)
    fig = Figure(figsize=(max(5.0, 0.7 * len(layers) + 2.5), 3.6), layout="constrained")
    ax = fig.subplots()
    for i, method in enumerate(methods):
        shift = (i - (len(methods) - 1) / 2) * 0.06  # keep the error bars of the methods apart
        points = []
        for x, layer in enumerate(layers):
            values = [v for r in select(rows, method, layer) if math.isfinite(v := float(r[metric]))]
            if values:
                mean, std, _ = mean_std(values)
                points.append((x + shift, mean, std))
        if points:
            xs, means, stds = zip(*points)
            ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=method)
    ax.set_xticks(range(len(layers)), layers, rotation=45 if len(layers) > 6 else 0)
    ax.set_xlabel("layer")
    ax.set_ylabel(label)
    ax.set_title(f"{label} by layer (mean ± std over images)", fontsize=10)
    ax.grid(alpha=0.3)
    if methods:
        ax.legend(fontsize=8)
    return fig


def _saved_reconstructions(folder: Path, methods: Sequence[str], layers: Sequence[str]) -> dict[str, dict[str, dict[str, torch.Tensor]]]:
    """method → layer → image name → ``3×H×W``, from ``reconstructions/<method>_<layer>.pt``."""
    recon: dict[str, dict[str, dict[str, torch.Tensor]]] = {}
    for method in methods:
        for layer in layers:
            path = folder / "reconstructions" / f"{file_stem(method)}_{file_stem(layer)}.pt"
            if path.is_file():
                saved = torch.load(path, map_location="cpu", weights_only=True)
                recon.setdefault(method, {})[layer] = dict(zip(saved["images"], saved["reconstructions"]))
    return recon


def _originals(folder: Path) -> dict[str, torch.Tensor]:
    path = folder / "reconstructions" / ORIGINALS_FILE
    if not path.is_file():
        return {}
    saved = torch.load(path, map_location="cpu", weights_only=True)
    return dict(zip(saved["images"], saved["originals"]))


def layer_sweep_figures(folder: Path, rows: Sequence[Row], layer_order: Sequence[str], max_images: int = 2) -> list[Path]:
    """Write ``plots/layers_<image>.png`` for the first ``max_images`` saved images; returns the paths."""
    originals = list(_originals(folder).items())[: max(max_images, 0)]
    if not originals:
        return []
    layers, methods = ordered_layers(rows, layer_order), ordered_methods(rows)
    recon = _saved_reconstructions(folder, methods, layers)
    written = []
    for name, original in originals:
        per_method = {m: {lay: imgs[name] for lay, imgs in by_layer.items() if name in imgs} for m, by_layer in recon.items()}
        per_method = {m: v for m, v in per_method.items() if v}
        if per_method:
            fig = layer_sweep_figure(original, per_method, layers, title=name)
            written.append(save_figure(fig, folder / "plots" / f"layers_{file_stem(name)}.png", dpi=100))
    return written


def settings_section(data_weights: Mapping[str, Mapping[str, str]]) -> str:
    """``## Settings``: per optimisation method and layer, its data weight C and where it comes
    from (a calibrated table, a network's stride table, or M&V's ladder by stride)."""
    lines = [f"- {method}, {layer}: {note}" for method, by_layer in data_weights.items() for layer, note in by_layer.items()]
    return "## Settings\n\n" + ("\n".join(lines) or "no optimisation method")


def report_sections(
    folder: Path,
    rows: Sequence[Row],
    layer_order: Sequence[str],
    sweep_images: int = 2,
    data_weights: Mapping[str, Mapping[str, str]] | None = None,
    *,
    perceptual_weights: str = "pretrained",
) -> list[str]:
    """Write the plots and return the sections of ``report.md`` (see the module docstring);
    ``data_weights`` (method → layer → note) adds :func:`settings_section`; ``perceptual_weights``
    ``random`` says that the perceptual distances' backbones were random (plumbing only)."""
    for metric in METRICS:
        save_figure(metric_plot(rows, metric, layer_order), folder / "plots" / f"{metric}.png")
    layers, methods = ordered_layers(rows, layer_order), ordered_methods(rows)
    images = len({r["image"] for r in rows})
    explanation = SCORE_EXPLANATION
    if perceptual_names(rows):
        explanation += " " + PERCEPTUAL_EXPLANATION
        if perceptual_weights == "random":
            explanation += " **Their backbones here are random (--perceptual.weights random): plumbing only, the values mean nothing.**"
    sections = [
        f"{images} images. Data: [metrics.csv](metrics.csv), [metrics.json](metrics.json). {explanation}",
        "## Summary: mean SSIM\n\n" + ssim_summary_table(rows, layer_order),
        "## Plots\n\n" + "\n".join(f"![{METRICS[m][0]}](plots/{m}.png)" for m in METRICS),
    ]
    sweeps = layer_sweep_figures(folder, rows, layer_order, sweep_images)
    if sweeps:
        sections.append("## Reconstructions by layer\n\n" + "\n".join(f"![{p.stem}](plots/{p.name})" for p in sweeps))
    for layer in layers:
        text = f"## Layer {layer}\n\n" + layer_table(rows, layer, methods) + "\n\nPer image:\n\n" + evidence_table(rows, layer, methods)
        grids = [(m, f"grids/{file_stem(m)}_{file_stem(layer)}.png") for m in methods if select(rows, m, layer)]
        links = [f"[{m}]({p})" for m, p in grids if (folder / p).is_file()]
        if links:
            text += "\n\nGrids (original | reconstruction | difference | |difference|): " + " · ".join(links)
        sections.append(text)
    diverged = [f"- {r['method']} {r['layer']} {r['image']}" for r in rows if r.get("diverged")]
    sections.append("## Diverged images\n\n" + ("\n".join(diverged) or "none"))
    if data_weights is not None:
        sections.append(settings_section(data_weights))
    return sections


# -- Weights & Biases ---------------------------------------------------------------------------
def _table(wandb: Any, rows: Sequence[Row]) -> Any:
    columns = list(COLUMNS) + [c for c in (rows[0] if rows else {}) if c not in COLUMNS]
    return wandb.Table(columns=columns, data=[[r.get(c) for c in columns] for r in rows])


def wandb_job_payload(wandb: Any, folder: Path, rows: Sequence[Row], method: str, layer: str) -> dict[str, Any]:
    """One finished job: ``jobs/<method>_<layer>`` (its rows), its grid, and its mean scores."""
    stem = f"{file_stem(method)}_{file_stem(layer)}"
    payload: dict[str, Any] = {f"jobs/{stem}": _table(wandb, rows)}
    payload.update({f"means/{stem}/{m}": mean_std([float(r[m]) for r in rows])[0] for m in METRICS})
    grid = folder / "grids" / f"{stem}.png"
    if grid.is_file():
        payload[f"grids/{stem}"] = wandb.Image(str(grid), caption="original | reconstruction | difference | |difference|")
    return payload


def wandb_study_payload(wandb: Any, folder: Path, rows: Sequence[Row], layer_order: Sequence[str]) -> dict[str, Any]:
    """The finished study: ``metrics`` (every row), ``means``, ``ssim_summary``, ``layers/<image>``
    sweeps, and ``reconstructions`` (per saved image, method and layer: original, reconstruction, scores)."""
    payload: dict[str, Any] = {"metrics": _table(wandb, rows)}
    layers, methods = ordered_layers(rows, layer_order), ordered_methods(rows)
    means = [
        [m, layer, len(sel), *(v for k in METRICS for v in mean_std([float(r[k]) for r in sel])[:2])]
        for layer in layers
        for m in methods
        if (sel := select(rows, m, layer))
    ]
    payload["means"] = wandb.Table(
        columns=["method", "layer", "images"] + [f"{k}_{s}" for k in METRICS for s in ("mean", "std")], data=means
    )
    _, _, table = ssim_summary(rows, layer_order)
    payload["ssim_summary"] = wandb.Table(columns=["layer", *methods], data=[[layer, *v] for layer, v in zip(layers, table)])
    for path in sorted((folder / "plots").glob("layers_*.png")):
        payload[f"layers/{path.stem.removeprefix('layers_')}"] = wandb.Image(str(path), caption="rows: methods, columns: layers")
    originals, recon = _originals(folder), _saved_reconstructions(folder, methods, layers)
    by_key = {(r["method"], r["layer"], r["image"]): r for r in rows}
    data = []
    for method, by_layer in recon.items():
        for layer, images in by_layer.items():
            for name, image in images.items():
                row = by_key.get((method, layer, name))
                if row is not None and name in originals:
                    data.append(
                        [
                            method,
                            layer,
                            name,
                            wandb.Image(originals[name].permute(1, 2, 0).numpy()),
                            wandb.Image(image.clamp(0, 1).permute(1, 2, 0).numpy()),
                            row["ssim"],
                            row["psnr"],
                            row["feature_error"],
                        ]
                    )
    payload["reconstructions"] = wandb.Table(
        columns=["method", "layer", "image", "original", "reconstruction", "ssim", "psnr", "feature_error"], data=data
    )
    return payload
