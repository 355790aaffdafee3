"""Class visualisations (``python evaluate.py visualise``): activation maximisation of ImageNet
classes under several presets, where DeepInversion and Lucent were made to shine.

For each preset and class, :func:`~deeprestore.inversion.maximise_activation` makes
``images_per_class`` images (different random starts) that maximise the class's logit (M&V 2016
§3; the newer presets with their own transforms, see :mod:`deeprestore.inversion.visualisations`).
Each image is scored by what the network says of it: the class's logit, its softmax probability
and whether it is the network's top-1. Writes ``visualisations.csv`` (:data:`VISUALISATION_COLUMNS`,
rewritten after every preset), ``classes.png`` (rows = presets, columns = classes), beside it
``attributions.png`` (the same grid of MACO's attribution maps: where each optimisation changed
the image most, :attr:`~deeprestore.inversion.engine.InversionResult.attribution`) and ``report.md``.

Each preset is one Lightning predict loop over the classes (:class:`VisualisationJob`), so
``--trainer.devices``/``--trainer.strategy ddp`` put it on the GPUs and share the classes out; the
optimisation and the scores are float32 whatever ``--trainer.precision`` says.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from matplotlib.figure import Figure
from torch import Tensor
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from deeprestore.inversion import get_preset, maximise_activation
from deeprestore.metrics import markdown_table, mean_std, save_figure
from deeprestore.nets import FeatureNetwork, load_network
from deeprestore.studies.option_groups import CanvasOptions, NetworkOptions, OptimisationOptions, VerifierOptions
from deeprestore.studies.predict_job import GatheredJob, run_job
from deeprestore.studies.study_folder import StudyFolder, StudyOptions
from deeprestore.studies.trainer_options import TrainerOptions

__all__ = [
    "DEFAULT_CLASSES",
    "VISUALISATION_COLUMNS",
    "ClassList",
    "VisualisationJob",
    "VisualisationStudy",
    "class_names",
    "verifier_columns",
]

VISUALISATION_COLUMNS = ("preset", "class_index", "class_name", "start", "logit", "probability", "top1", "seconds")


def verifier_columns(names: Sequence[str]) -> tuple[str, ...]:
    """``<name>_top1 <name>_probability`` of each verifier: is the class its top-1, and its
    softmax probability of the class (DeepInversion's judge of its images, Yin et al. 2020)."""
    return tuple(f"{name}_{s}" for name in names for s in ("top1", "probability"))


#: goldfish, flamingo, golden retriever, tabby cat, bee, balloon, mushroom, espresso
DEFAULT_CLASSES = (1, 130, 207, 281, 309, 417, 947, 967)


def class_names() -> list[str]:
    """The 1,000 ImageNet class names (torchvision's list, shipped with it)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


class ClassList(Dataset[dict[str, int]]):
    """The classes to visualise as a dataset: item ``i`` is ``{"index": i, "class_index": classes[i]}``."""

    def __init__(self, classes: Sequence[int]) -> None:
        self.classes = list(classes)

    def __len__(self) -> int:
        return len(self.classes)

    def __getitem__(self, index: int) -> dict[str, int]:
        return {"index": index, "class_index": self.classes[index]}


class VisualisationJob(GatheredJob):
    """One preset's class visualisations as a Lightning predict loop over a :class:`ClassList`.

    Args:
        net: the network (its last layer gives the class logits).
        preset: the preset.
        iterations_scale: factor on the preset's iterations.
        images_per_class: random starts per class.
        size: image side.
        seed: class ``k``'s starts come from the stream ``seed + k``.
        names: the 1,000 class names.
        verifiers: networks that did not make the images, scoring them (name → network; moved
            with this module).

    After :func:`~deeprestore.studies.predict_job.run_job`: :attr:`rows` (one per class and start,
    in class order) and :attr:`kept` (row position → ``{"image": 3×size×size, "attribution":
    3×size×size}``, the first start's image and its summed ``|∂E/∂x|``).
    """

    def __init__(
        self,
        net: FeatureNetwork,
        preset: str,
        iterations_scale: float,
        images_per_class: int,
        size: int,
        seed: int,
        names: Sequence[str],
        verifiers: dict[str, FeatureNetwork] | None = None,
    ) -> None:
        super().__init__()
        self.net, self.preset, self.iterations_scale = net, preset, iterations_scale
        self.images_per_class, self.size, self.seed, self.names = images_per_class, size, seed, list(names)
        self.verifier_names = list(verifiers or {})
        self.verifiers = torch.nn.ModuleList((verifiers or {}).values())

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> int:
        """Visualise each class of the batch; returns the number of images made."""
        made_count = 0
        for position, k in zip(batch["index"].tolist(), batch["class_index"].tolist()):
            started = time.perf_counter()
            with self.float32(), torch.enable_grad():
                result = maximise_activation(
                    self.net,
                    self.net.logits_layer,
                    k,
                    "class",
                    num_images=self.images_per_class,
                    size=(self.size, self.size),
                    preset=self.preset,
                    iterations_scale=self.iterations_scale,
                    seed=self.seed + k,
                    progress=False,
                    attribution=True,
                )
            seconds = (time.perf_counter() - started) / self.images_per_class
            made = result.images.detach().clamp(0, 1)
            with self.float32(), torch.no_grad():
                logits = self.net(made).float()
                judged = {name: v(made).float() for name, v in zip(self.verifier_names, self.verifiers)}
            probability = logits.softmax(1)[:, k].tolist()
            logit, top1 = logits[:, k].tolist(), (logits.argmax(1) == k).tolist()
            for i in range(len(made)):
                row = {
                    "preset": self.preset,
                    "class_index": k,
                    "class_name": self.names[k],
                    "start": i,
                    "logit": logit[i],
                    "probability": probability[i],
                    "top1": top1[i],
                    "seconds": seconds,
                }
                for name, scores in judged.items():
                    row[f"{name}_top1"] = bool(scores[i].argmax() == k)
                    row[f"{name}_probability"] = float(scores[i].softmax(0)[k])
                kept = {"image": made[0], "attribution": result.attribution[0]} if i == 0 else None
                self.add(position * self.images_per_class + i, row, kept)
            made_count += len(made)
        return made_count


@dataclass
class VisualisationStudy(StudyOptions):
    """Class visualisations by activation maximisation under several presets, scored by the network.

    Args:
        network: the network (``--network.name``, ``--network.weights``) whose last layer gives
            class logits; it takes no ``layers``.
        classes: ImageNet class indices to visualise.
        optimisation: the presets compared (``--optimisation.presets``) and their iterations
            (``--optimisation.budget``: every preset's iterations in all, its phases scaled in
            proportion; null: each its own; ``--optimisation.iterations_scale`` multiplies them).
        canvas: the images' side (``--canvas.size``).
        images_per_class: random starts per class and preset.
        verifiers: networks that did not make the images, judging them (``--verifiers.names
            [efficientnet_lite1, efficientnet_lite2]``; DeepInversion's measure: the share of images
            whose class is a verifier's top-1).
        trainer: where the classes are visualised (``--trainer.devices 8 --trainer.strategy ddp``).
    """

    network: NetworkOptions = field(default_factory=NetworkOptions)
    classes: list[int] = field(default_factory=lambda: list(DEFAULT_CLASSES))
    optimisation: OptimisationOptions = field(default_factory=lambda: OptimisationOptions(presets=["mv2016", "deepinversion", "lucent"]))
    canvas: CanvasOptions = field(default_factory=CanvasOptions)
    images_per_class: int = 1
    verifiers: VerifierOptions = field(default_factory=lambda: VerifierOptions(names=[]))
    trainer: TrainerOptions = field(default_factory=TrainerOptions)

    def check(self) -> None:
        """Reject option values that cannot run (one line each)."""
        if self.network.layers:
            raise ValueError(f"--network.layers {self.network.layers}: the visualisation study maximises class logits; give no layers")
        if not self.classes or not self.optimisation.presets:
            raise ValueError("--classes and --optimisation.presets need at least one value each")
        bad = [c for c in self.classes if not 0 <= c < 1000]
        if bad:
            raise ValueError(f"--classes must be ImageNet class indices 0–999, got {bad}")
        self.canvas.check()
        if self.images_per_class < 1:
            raise ValueError(f"--images_per_class must be at least 1, got {self.images_per_class}")
        self.optimisation.check()

    def run(self, command: str | None = None) -> list[dict]:
        """Visualise every class with every preset; write the table, the figure and the report."""
        self.check()
        net = load_network(self.network.name, self.network.weights, seed=self.seed_everything)
        presets = self.optimisation.presets
        names = class_names()
        verifiers = {name: load_network(name) for name in self.verifiers.names}
        columns = VISUALISATION_COLUMNS + verifier_columns(self.verifiers.names)
        trainer = self.trainer.make()
        folder = StudyFolder("visualise", self, writer=trainer.is_global_zero, command=command).open()
        rows: list[dict] = []
        images: dict[tuple[str, int], torch.Tensor] = {}
        attributions: dict[tuple[str, int], torch.Tensor] = {}
        classes = ClassList(self.classes)
        bar = tqdm(total=len(presets), desc="visualisations", unit="preset", disable=not (self.progress and folder.writer))
        for preset in presets:
            scale = self.optimisation.scale_for(get_preset(preset).iterations)
            job = VisualisationJob(net, preset, scale, self.images_per_class, self.canvas.size, self.seed_everything, names, verifiers)
            rows += run_job(trainer, job, classes, batch_size=1).rows
            for position, kept in job.kept.items():
                images[(preset, self.classes[position // self.images_per_class])] = kept["image"]
                attributions[(preset, self.classes[position // self.images_per_class])] = attribution_map(kept["attribution"])
            bar.update(1)
            folder.write_table("visualisations", columns, rows, json_too=True)
        bar.close()
        if not folder.writer:
            return rows
        figure = save_figure(class_grid(images, presets, self.classes, names), folder.path / "classes.png")
        attribution_figure = save_figure(class_grid(attributions, presets, self.classes, names), folder.path / "attributions.png")
        folder.publish(
            f"Class visualisations: {net.name}",
            report_sections(rows, presets, figure, attribution_figure, self.verifiers.names),
            ("visualisations", columns, rows),
            figures=[figure, attribution_figure],
            summary="top-1 rate and mean probability by preset:\n" + summary_table(rows, presets, self.verifiers.names),
        )
        return rows


def summary_table(rows: Sequence[dict], presets: Sequence[str], verifiers: Sequence[str] = ()) -> str:
    """Per preset: images, top-1 rate, mean probability and logit of the class, each verifier's
    top-1 rate (its accuracy on the images: DeepInversion's measure), seconds per image."""
    body = []
    for preset in presets:
        sel = [r for r in rows if r["preset"] == preset]
        if sel:
            prob, std, _ = mean_std([r["probability"] for r in sel])
            body.append(
                [
                    preset,
                    len(sel),
                    f"{sum(r['top1'] for r in sel)}/{len(sel)}",
                    f"{prob:.3f} ± {std:.3f}",
                    f"{mean_std([r['logit'] for r in sel])[0]:.1f}",
                    *(f"{sum(r[f'{v}_top1'] for r in sel)}/{len(sel)}" for v in verifiers),
                    f"{mean_std([r['seconds'] for r in sel])[0]:.1f}",
                ]
            )
    header = ["preset", "images", "top-1 is the class", "probability of the class", "logit"]
    return markdown_table([*header, *(f"{v} top-1 is the class" for v in verifiers), "s / image"], body)


def report_sections(
    rows: Sequence[dict], presets: Sequence[str], figure: Path, attribution_figure: Path, verifiers: Sequence[str] = ()
) -> list[str]:
    """The sections of ``report.md``."""
    return [
        "Each image maximises one class's logit from its own random start; the network then scores it. "
        "Data: [visualisations.csv](visualisations.csv).",
        "## By preset\n\n" + summary_table(rows, presets, verifiers),
        f"## The images\n\n![classes]({figure.name})",
        "## Where each optimisation changed the image\n\n"
        "MACO's attribution map: the absolute gradient of the energy with respect to the image, summed over the "
        f"iterations and its colour channels, scaled by its 99th percentile (white: most).\n\n![attributions]({attribution_figure.name})",
    ]


def attribution_map(attribution: torch.Tensor) -> torch.Tensor:
    """``3×H×W`` summed ``|∂E/∂x|`` → a grey ``3×H×W`` image in [0, 1]: the channels' sum divided by
    its 99th percentile, clipped (0 where the map is all zero)."""
    total = attribution.float().sum(0)
    scale = total.flatten().quantile(0.99).clamp_min(1e-12)
    return (total / scale).clamp(0, 1).expand(3, -1, -1)


def class_grid(images: dict[tuple[str, int], torch.Tensor], presets: Sequence[str], classes: Sequence[int], names: Sequence[str]) -> Figure:
    """Rows = presets, columns = classes: the first image of each."""
    figure = Figure(figsize=(1.6 * len(classes), 1.7 * len(presets) + 0.3))
    axes = figure.subplots(len(presets), len(classes), squeeze=False)
    for r, preset in enumerate(presets):
        for c, k in enumerate(classes):
            ax = axes[r][c]
            ax.imshow(images[(preset, k)].permute(1, 2, 0).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(names[k], fontsize=8)
            if c == 0:
                ax.set_ylabel(preset, fontsize=9)
    figure.tight_layout()
    return figure
