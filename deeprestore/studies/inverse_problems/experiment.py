"""The inverse-problems experiment: every image, every forward operator, every method (CSGM, ILO).

Every test image ``x`` is measured by each forward operator, ``y = A(x) + noise`` (noise seeded per
operator), and reconstructed by each method from ``y`` alone. Scores per (method, operator, image):
the measurement error ``‖A(x̂) − y‖² / m``, and MSE, PSNR and SSIM of ``x̂`` against ``x``
(:mod:`deeprestore.metrics.scores`). Output: ``inverse_problems.csv`` (columns
:data:`INVERSE_PROBLEM_COLUMNS`, written atomically after every operator), a figure per operator
(observation | method … | truth, :func:`observation_image` says what "observation" shows), a
bar chart of MSE per operator and method, and a markdown table for ``report.md``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import Tensor
from tqdm import tqdm

from deeprestore.metrics import markdown_table, mean_std, mse, psnr, save_figure, ssim
from deeprestore.generative.ilo import InversionResult
from deeprestore.generative.operators import ForwardOperator
from deeprestore.generative.staged_generator import StagedGenerator
from deeprestore.studies.study_folder import StudyFolder

__all__ = ["INVERSE_PROBLEM_COLUMNS", "Method", "inverse_problems_figure", "inverse_problems_table", "mse_bar_chart",
           "observation_image", "run_inverse_problems_study"]

log = logging.getLogger(__name__)

INVERSE_PROBLEM_COLUMNS = ("method", "operator", "measurements", "image", "measurement_mse", "mse", "psnr", "ssim")

#: ``method(generator, operator, y, seed) → InversionResult``
Method = Callable[[StagedGenerator, ForwardOperator, Tensor, int], InversionResult]


def observation_image(operator: ForwardOperator, y: Tensor) -> Tensor:
    """What the measurements look like as ``N×C×H×W`` images in [0, 1]: the measurements
    themselves when they are images of the original size (inpainting, denoising), nearest
    upsampling when they are smaller images (super-resolution), otherwise the back-projection
    ``Aᵀy`` stretched to [0, 1] per image (compressed sensing)."""
    shape = tuple(operator.image_shape)
    if tuple(y.shape[1:]) == shape:
        return y.clamp(0, 1)
    if y.dim() == 4 and y.shape[1] == shape[0]:
        return F.interpolate(y, size=shape[1:], mode="nearest").clamp(0, 1)
    back = operator.adjoint(y).flatten(1)
    lo, hi = back.min(1, keepdim=True).values, back.max(1, keepdim=True).values
    return ((back - lo) / (hi - lo).clamp_min(1e-12)).view(len(y), *shape)


def run_inverse_problems_study(
    generator: StagedGenerator,
    images: Tensor,
    names: Sequence[str],
    operators: Mapping[str, ForwardOperator],
    methods: Mapping[str, Method],
    folder: StudyFolder,
    *,
    seed: int = 0,
    figure_images: int = 4,
    progress: bool = True,
) -> list[dict]:
    """Reconstruct every image under every operator with every method; write the CSV and figures.

    Args:
        generator: the trained generator (frozen).
        images: ``N×C×H×W`` test images in [0, 1], of the generator's output size.
        names: one unique name per image.
        operators: name → operator (built for the images' shape).
        methods: name → :data:`Method`.
        folder: the study folder (``inverse_problems.csv``, ``plots/``).
        seed: seed of the measurement noise (operator ``i`` uses ``seed + i``) and of the methods.
        figure_images: images per figure (0: no figures).
    """
    if len(images) == 0 or len(names) != len(images) or len(set(names)) != len(names):
        raise ValueError(f"need a non-empty batch of images with unique names, got {list(names)}")
    shape = tuple(generator.layer_shapes()[-1])
    if tuple(images.shape[1:]) != shape:
        raise ValueError(f"images are {tuple(images.shape[1:])} but the generator makes {shape}")
    out = folder.path
    rows: list[dict] = []
    jobs = [(o, m) for o in operators for m in methods]
    bar = tqdm(jobs, desc="inverse problems", unit="job", disable=not progress)
    for i, (op_name, operator) in enumerate(operators.items()):
        y = operator.measure(images, generator=torch.Generator().manual_seed(seed + i))
        recon: dict[str, Tensor] = {}
        for m_name, method in methods.items():
            bar.set_postfix_str(f"{op_name} · {m_name}")
            start = time.perf_counter()
            result = method(generator, operator, y, seed)
            x_hat = result.images.detach().clamp(0, 1)
            log.info("%s on %s: %.1f s", m_name, op_name, time.perf_counter() - start)
            recon[m_name] = x_hat
            scores = {"mse": mse(x_hat, images), "psnr": psnr(x_hat, images), "ssim": ssim(x_hat, images)}
            measured = (operator(x_hat) - y).pow(2).flatten(1).mean(1)
            for j, name in enumerate(names):
                rows.append({"method": m_name, "operator": op_name, "measurements": operator.num_measurements, "image": name,
                             "measurement_mse": float(measured[j]), **{k: float(v[j]) for k, v in scores.items()}})
            bar.update(1)
        folder.write_table("inverse_problems", INVERSE_PROBLEM_COLUMNS, rows)
        if figure_images > 0 and folder.writer:
            k = min(figure_images, len(images))
            fig = inverse_problems_figure(observation_image(operator, y[:k]), {m: r[:k] for m, r in recon.items()}, images[:k],
                                          names[:k], title=f"{op_name} ({operator.num_measurements} measurements)")
            save_figure(fig, out / "plots" / f"{op_name}.png")
    bar.close()
    if rows and folder.writer:
        save_figure(mse_bar_chart(rows), out / "plots" / "mse_by_operator.png")
    return rows


def inverse_problems_figure(observation: Tensor, reconstructions: Mapping[str, Tensor], truth: Tensor,
                            names: Sequence[str], title: str = "", panel_inches: float = 1.6) -> Figure:
    """One row per image: observation | each method (with its PSNR) | truth."""
    columns = ["observation", *reconstructions, "truth"]
    n = len(truth)
    fig = Figure(figsize=(panel_inches * len(columns), panel_inches * n + 0.5))
    axes = fig.subplots(n, len(columns), squeeze=False)
    for r in range(n):
        panels = [observation[r], *(v[r] for v in reconstructions.values()), truth[r]]
        for c, panel in enumerate(panels):
            ax = axes[r][c]
            ax.imshow(panel.detach().float().clamp(0, 1).permute(1, 2, 0).squeeze(-1).cpu().numpy(), cmap="gray", vmin=0, vmax=1,
                      interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(columns[c], fontsize=8)
            if 0 < c < len(columns) - 1:
                ax.set_xlabel(f"{float(psnr(panel[None], truth[r : r + 1])[0]):.1f} dB", fontsize=7)
        axes[r][0].set_ylabel(names[r], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def mse_bar_chart(rows: Sequence[dict]) -> Figure:
    """Mean reconstruction MSE per operator (groups) and method (bars), log scale."""
    operators = list(dict.fromkeys(r["operator"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig = Figure(figsize=(1.2 + 1.3 * len(operators), 3.2))
    ax = fig.subplots()
    width = 0.8 / len(methods)
    for k, m in enumerate(methods):
        means = [np.mean([r["mse"] for r in rows if r["operator"] == o and r["method"] == m] or [np.nan]) for o in operators]
        ax.bar(np.arange(len(operators)) + (k - (len(methods) - 1) / 2) * width, means, width, label=m)
    ax.set_xticks(np.arange(len(operators)), operators, rotation=20, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("reconstruction MSE (mean)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def inverse_problems_table(rows: Sequence[dict]) -> str:
    """Markdown: one row per (operator, method): measurements and mean measurement MSE, MSE, PSNR, SSIM."""
    body = []
    for o in dict.fromkeys(r["operator"] for r in rows):
        for m in dict.fromkeys(r["method"] for r in rows):
            sel = [r for r in rows if r["operator"] == o and r["method"] == m]
            if sel:
                mean = {k: mean_std([float(r[k]) for r in sel])[0] for k in ("measurement_mse", "mse", "psnr", "ssim")}
                body.append([o, sel[0]["measurements"], m, f"{mean['measurement_mse']:.2e}", f"{mean['mse']:.2e}",
                             f"{mean['psnr']:.2f}", f"{mean['ssim']:.3f}", len(sel)])
    return markdown_table(["operator", "measurements", "method", "measurement MSE", "MSE", "PSNR", "SSIM", "images"], body)
