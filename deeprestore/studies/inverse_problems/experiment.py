"""The inverse-problems experiment: every image, every forward operator, every method (CSGM, ILO).

Every test image ``x`` is measured by each forward operator, ``y = A(x) + noise`` (noise seeded per
image and operator), and reconstructed by each method from ``y`` alone. Scores per (method, operator, image):
the measurement error ``‖A(x̂) − y‖² / m``, and MSE, PSNR and SSIM of ``x̂`` against ``x``
(:mod:`deeprestore.metrics.scores`). Output: ``inverse_problems.csv`` (columns
:data:`INVERSE_PROBLEM_COLUMNS`, written atomically after every operator; each (operator, method) is one Lightning predict loop,
:class:`InverseProblemJob`), a figure per operator
(observation | method … | truth, :func:`observation_image` says what "observation" shows), a
bar chart of MSE per operator and method, and a markdown table for ``report.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import Tensor
from tqdm.auto import tqdm

from datamodules.evaluation_images import EvaluationImages, StackedImages
from deeprestore.generative.ilo import InversionResult
from deeprestore.generative.operators import ForwardOperator
from deeprestore.generative.staged_generator import StagedGenerator
from deeprestore.inversion.seeds import image_seeds
from deeprestore.metrics import markdown_table, mean_std, mse, psnr, save_figure, ssim
from deeprestore.studies.predict_job import GatheredJob, run_job
from deeprestore.studies.study_folder import StudyFolder

__all__ = [
    "INVERSE_PROBLEM_COLUMNS",
    "InverseProblemJob",
    "Method",
    "inverse_problems_figure",
    "inverse_problems_table",
    "mse_bar_chart",
    "mse_by_measurements",
    "observation_image",
    "operator_name",
    "run_inverse_problems_study",
]

INVERSE_PROBLEM_COLUMNS = ("method", "operator", "measurements", "image", "image_set", "measurement_mse", "mse", "psnr", "ssim")
#: an operator key ``<operator>@<measurements>`` runs one operator at several measurement counts
AT = "@"

#: ``method(generator, operator, y, seeds) → InversionResult`` (one seed per image of ``y``)
Method = Callable[[StagedGenerator, ForwardOperator, Tensor, Sequence[int]], InversionResult]


def operator_name(key: str) -> str:
    """The operator of an operator key (``cs-gaussian@600`` → ``cs-gaussian``)."""
    return key.split(AT, 1)[0]


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


class InverseProblemJob(GatheredJob):
    """One (operator, method) of the study as a Lightning predict loop over the images.

    Each image is measured with its own noise stream (seeded by its pixels, the study's seed and
    the operator's position) and reconstructed from its own random latent starts (seeded by its
    pixels and the seed), so its row does not depend on the batch or the process it ran in. Under
    ``bf16-mixed`` the generator runs in bf16; the measurements, the methods' variables and
    objectives (:mod:`deeprestore.generative.ilo`) and the scores are float32.
    Rows have :data:`INVERSE_PROBLEM_COLUMNS` (``image_set`` from ``sets``, one per image); the
    first ``figure_images`` images keep their observation, reconstruction and truth for the figures.
    """

    def __init__(
        self,
        generator: StagedGenerator,
        operator: ForwardOperator,
        operator_name: str,
        operator_index: int,
        method_name: str,
        method: Method,
        names: Sequence[str],
        *,
        seed: int,
        figure_images: int,
        sets: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.sets = list(sets) if sets is not None else ["test"] * len(names)
        self.generator = generator
        self.operator = operator
        self.operator_name = operator_name
        self.operator_index = operator_index
        self.method_name = method_name
        self.method = method
        self.names = list(names)
        self.seed = seed
        self.figure_images = figure_images

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> int:
        """Measure, reconstruct and score a batch; returns its image count."""
        indices = [int(i) for i in batch["index"]]
        images = batch["image"]
        y = self.operator.measure(images, seeds=image_seeds(images, self.seed + 1000 * (self.operator_index + 1)))
        with torch.enable_grad():
            result = self.method(self.generator, self.operator, y, image_seeds(images, self.seed))
        x_hat = result.images.detach().clamp(0, 1).to(images.dtype)
        with self.float32():
            scores = {"mse": mse(x_hat, images), "psnr": psnr(x_hat, images), "ssim": ssim(x_hat, images)}
            measured = (self.operator(x_hat) - y).pow(2).flatten(1).mean(1)
            observations = observation_image(self.operator, y)
        for k, index in enumerate(indices):
            row = {
                "method": self.method_name,
                "operator": self.operator_name,
                "measurements": self.operator.num_measurements,
                "image": self.names[index],
                "image_set": self.sets[index],
                "measurement_mse": float(measured[k]),
                **{m: float(v[k]) for m, v in scores.items()},
            }
            keep = index < self.figure_images
            self.add(index, row, {"observation": observations[k], "reconstruction": x_hat[k], "truth": images[k]} if keep else None)
        return len(indices)


def run_inverse_problems_study(
    generator: StagedGenerator,
    data: StackedImages | EvaluationImages,
    operators: Mapping[str, ForwardOperator],
    methods: Mapping[str, Method] | Callable[[str], Mapping[str, Method]],
    folder: StudyFolder,
    trainer: L.Trainer,
    *,
    batch_size: int = 16,
    seed: int = 0,
    figure_images: int = 4,
    progress: bool = True,
    sets: Sequence[str] | None = None,
) -> list[dict]:
    """Reconstruct every image under every operator with every method; write the CSV and figures.

    Each (operator, method) is one ``trainer.predict`` loop (:class:`InverseProblemJob`), so the
    Trainer's devices share the images out.

    Args:
        generator: the trained generator (frozen).
        data: the test images in [0, 1], of the generator's output size (``{"index", "image"}`` items).
        operators: key → operator (built for the images' shape); a key ``<name>@<m>`` is the operator
            ``<name>`` at ``m`` measurements (the ``operator`` column holds the name).
        methods: name → :data:`Method`, or a function of the operator key giving them (methods
            tuned per operator).
        folder: the study folder (``inverse_problems.csv``, ``plots/``).
        trainer: a predict-only Trainer with ``inference_mode=False``.
        batch_size: images per batch and process.
        seed: seed of the measurement noise and of the methods' random starts (per image).
        figure_images: images per figure (0: no figures).
        sets: the ``image_set`` of each image (default ``"test"``).
    """
    shape = tuple(generator.layer_shapes()[-1])
    first = data[0]["image"]
    if tuple(first.shape) != shape:  # type: ignore[union-attr]
        raise ValueError(f"images are {tuple(first.shape)} but the generator makes {shape}")  # type: ignore[union-attr]
    rows: list[dict] = []
    methods_for = methods if callable(methods) else (lambda key: methods)
    bar = tqdm(
        total=len(operators) * len(methods_for(next(iter(operators)))),
        desc="inverse problems",
        unit="job",
        disable=not (progress and folder.writer),
    )
    for i, (op_name, operator) in enumerate(operators.items()):
        kept: dict[str, dict[int, dict[str, Tensor]]] = {}
        for m_name, method in methods_for(op_name).items():
            bar.set_postfix_str(f"{op_name} · {m_name}")
            job = InverseProblemJob(
                generator,
                operator,
                operator_name(op_name),
                i,
                m_name,
                method,
                data.names,
                seed=seed,
                figure_images=figure_images,
                sets=sets,
            )
            run_job(trainer, job, data, batch_size)
            rows += job.rows
            kept[m_name] = job.kept
            bar.update(1)
        folder.write_table("inverse_problems", INVERSE_PROBLEM_COLUMNS, rows)
        if figure_images > 0 and folder.writer and kept:
            first = next(iter(kept.values()))  # observations and truths are the same for every method
            shown = sorted(first)
            fig = inverse_problems_figure(
                _stacked(first, shown, "observation"),
                {m: _stacked(images, shown, "reconstruction") for m, images in kept.items()},
                _stacked(first, shown, "truth"),
                [data.names[k] for k in shown],
                title=f"{op_name} ({operator.num_measurements} measurements)",
            )
            save_figure(fig, folder.path / "plots" / f"{op_name.replace(AT, '_m')}.png")
    bar.close()
    if rows and folder.writer:
        save_figure(mse_bar_chart(rows), folder.path / "plots" / "mse_by_operator.png")
        if any(AT in key for key in operators):
            save_figure(mse_by_measurements(rows), folder.path / "plots" / "mse_by_measurements.png")
    return rows


def _stacked(kept: Mapping[int, Mapping[str, Tensor]], indices: Sequence[int], key: str) -> Tensor:
    """The kept tensors ``key`` of the images ``indices``, stacked."""
    return torch.stack([kept[k][key] for k in indices])


def inverse_problems_figure(
    observation: Tensor,
    reconstructions: Mapping[str, Tensor],
    truth: Tensor,
    names: Sequence[str],
    title: str = "",
    panel_inches: float = 1.6,
) -> Figure:
    """One row per image: observation | each method (with its PSNR) | truth."""
    columns = ["observation", *reconstructions, "truth"]
    n = len(truth)
    fig = Figure(figsize=(panel_inches * len(columns), panel_inches * n + 0.5))
    axes = fig.subplots(n, len(columns), squeeze=False)
    for r in range(n):
        panels = [observation[r], *(v[r] for v in reconstructions.values()), truth[r]]
        for c, panel in enumerate(panels):
            ax = axes[r][c]
            ax.imshow(
                panel.detach().float().clamp(0, 1).permute(1, 2, 0).squeeze(-1).cpu().numpy(),
                cmap="gray",
                vmin=0,
                vmax=1,
                interpolation="nearest",
            )
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


def mse_by_measurements(rows: Sequence[dict]) -> Figure:
    """Mean reconstruction MSE against the number of measurements (log-log): one panel per
    operator measured at several counts, one line per method and image set (Daras et al.'s figure
    of MSE against m)."""
    several = [o for o in dict.fromkeys(r["operator"] for r in rows) if len({r["measurements"] for r in rows if r["operator"] == o}) > 1]
    fig = Figure(figsize=(4.2 * max(1, len(several)), 3.4))
    axes = fig.subplots(1, max(1, len(several)), squeeze=False)[0]
    for ax, o in zip(axes, several):
        for k, (m, image_set) in enumerate(dict.fromkeys((r["method"], r["image_set"]) for r in rows if r["operator"] == o)):
            counts = sorted({int(r["measurements"]) for r in rows if r["operator"] == o})
            means = [
                np.mean(
                    [
                        r["mse"]
                        for r in rows
                        if r["operator"] == o and r["method"] == m and r["image_set"] == image_set and int(r["measurements"]) == c
                    ]
                )
                for c in counts
            ]
            ax.plot(
                counts,
                means,
                marker="o",
                color=f"C{list(dict.fromkeys(r['method'] for r in rows)).index(m)}",
                linestyle="-" if k % 2 == 0 else "--",
                label=f"{m}, {image_set}",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("measurements m")
        ax.set_ylabel("reconstruction MSE (mean)")
        ax.set_title(o, fontsize=9)
        ax.legend(fontsize=7)
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
    """Markdown: one row per (image set, operator, measurements, method): mean measurement MSE,
    MSE, PSNR, SSIM, and the share of images where this method's MSE is the lowest."""
    body = []
    groups = dict.fromkeys((r.get("image_set", "test"), r["operator"], int(r["measurements"])) for r in rows)
    for image_set, o, count in groups:
        here = [r for r in rows if r.get("image_set", "test") == image_set and r["operator"] == o and int(r["measurements"]) == count]
        best = {}
        for r in here:
            if r["image"] not in best or r["mse"] < best[r["image"]]:
                best[r["image"]] = r["mse"]
        for m in dict.fromkeys(r["method"] for r in here):
            sel = [r for r in here if r["method"] == m]
            mean = {k: mean_std([float(r[k]) for r in sel])[0] for k in ("measurement_mse", "mse", "psnr", "ssim")}
            wins = sum(r["mse"] <= best[r["image"]] for r in sel)
            body.append(
                [
                    image_set,
                    o,
                    count,
                    m,
                    f"{mean['measurement_mse']:.2e}",
                    f"{mean['mse']:.2e}",
                    f"{mean['psnr']:.2f}",
                    f"{mean['ssim']:.3f}",
                    f"{wins}/{len(sel)}",
                ]
            )
    return markdown_table(["images", "operator", "measurements", "method", "measurement MSE", "MSE", "PSNR", "SSIM", "lowest MSE"], body)
