"""The calibration study (``python evaluate.py calibrate``): tune ``mv2016`` per layer on a tuning
split, report on images never used for tuning.

For each layer, every setting of the grid — the data weight C (:data:`data_weights`), the priors'
final weight of a linear fade (:func:`~deeprestore.inversion.presets.with_fading_priors`,
:data:`prior_finals`; 1 = M&V's constant weights) and the iteration budget (:data:`iterations_scales`)
— inverts the **tuning** images. Among the settings whose mean SSIM is at least ``ssim_fraction``
of the grid's best, the chosen one has the lowest mean feature error; among those within
``budget_tolerance`` of it, the smallest budget wins (then the lower error). The
chosen settings then run on the **report** images, beside ``gd-plain`` and the shipped ``mv2016``
at the same budget, and only those numbers are the calibration's result. Defaults: the held-out
set split by :func:`datamodules.evaluation_images.held_out_split` (10 ImageNet photos to tune,
the other 10 plus chelsea and coffee to report).

Writes ``tuning.csv`` (every candidate's rows), ``metrics.csv`` (the report split's rows, the
inversion study's columns), ``calibration.yaml`` (per layer: the chosen C, prior fade and budget,
with both splits' mean feature error and SSIM) and ``report.md``. Every job runs through the
Trainer (``--trainer.devices 8 --trainer.strategy ddp`` on a GPU node).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from tqdm.auto import tqdm

from datamodules.evaluation_images import EvaluationImages, held_out_split, images_from_paths
from datamodules.skips import SkipTracker
from deeprestore.metrics import markdown_table, mean_std
from deeprestore.nets import FeatureNetwork, load_network
from deeprestore.studies.inversion.job import InversionJob
from deeprestore.studies.inversion.methods import Method, PresetMethod, TunedPresetMethod
from deeprestore.studies.inversion.report import evidence_table, layer_table
from deeprestore.studies.inversion.scoring import COLUMNS, Row
from deeprestore.studies.option_groups import ImageOptions, NetworkOptions
from deeprestore.studies.predict_job import run_job
from deeprestore.studies.study_folder import StudyFolder, StudyOptions
from deeprestore.studies.trainer_options import TrainerOptions

__all__ = ["CalibrationStudy", "choose"]

TUNING_COLUMNS = ("split", *COLUMNS)


def _mean(rows: Sequence[Row], column: str) -> float:
    return mean_std([float(r[column]) for r in rows])[0]


def choose(candidates: dict[TunedPresetMethod, list[Row]], budget_tolerance: float, ssim_fraction: float = 0.9) -> TunedPresetMethod:
    """Among the settings whose mean SSIM is at least ``ssim_fraction`` of the best mean SSIM of the
    grid, the one with the lowest mean feature error, or the cheapest within ``budget_tolerance``
    of it (ties: the lower error)."""
    errors = {m: _mean(rows, "feature_error") for m, rows in candidates.items()}
    ssims = {m: _mean(rows, "ssim") for m, rows in candidates.items()}
    natural = [m for m in candidates if ssims[m] >= ssim_fraction * max(ssims.values())]
    best = min(errors[m] for m in natural)
    near = [m for m in natural if errors[m] <= best + budget_tolerance]
    return min(near, key=lambda m: (m.iterations_scale, errors[m]))


@dataclass
class CalibrationStudy(StudyOptions):
    """Tune mv2016's data weight, prior fade and budget per layer on a tuning split; report on another.

    Args:
        network: the network and the layers to calibrate (``--network.layers``).
        data_weights: the grid of C.
        prior_finals: the grid of the priors' final weight (linear fade over the first phase; 1: constant).
        iterations_scales: the grid of budgets (× the preset's 350 iterations).
        budget_tolerance: a cheaper budget is chosen if its mean feature error is within this of the best.
        ssim_fraction: only settings whose mean SSIM is at least this fraction of the grid's best
            compete on feature error (1: the most natural-looking setting; 0: feature error alone,
            which at deep layers picks pre-images that match the features but lose half their SSIM).
        tuning_files: image files or folders to tune on (default: the held-out tuning split);
            given with ``--images.files``, the images reported on.
        images: the photos reported on (``--images.files``; default: the held-out report split),
            their crop and batch size.
        trainer: where the images are processed.
    """

    network: NetworkOptions = field(
        default_factory=lambda: NetworkOptions(layers=["stem", "block1", "block2", "block4", "block6", "block8"])
    )
    data_weights: list[float] = field(default_factory=lambda: [100.0, 300.0, 1000.0, 3000.0])
    prior_finals: list[float] = field(default_factory=lambda: [1.0, 0.3, 0.0])
    iterations_scales: list[float] = field(default_factory=lambda: [1.0, 4.0])
    budget_tolerance: float = 0.01
    ssim_fraction: float = 0.9
    tuning_files: list[str] | None = None
    images: ImageOptions = field(default_factory=ImageOptions)
    trainer: TrainerOptions = field(default_factory=TrainerOptions)

    def splits(self, skips: SkipTracker) -> tuple[EvaluationImages, EvaluationImages]:
        images = self.images
        if bool(self.tuning_files) != bool(images.files):
            raise ValueError("give both --tuning_files and --images.files, or neither (the held-out split)")
        if self.tuning_files and images.files:
            tuning, report = (
                images_from_paths(self.tuning_files, images.crop_size, skips, images.scan),
                images_from_paths(images.files, images.crop_size, skips, images.scan),
            )
            shared = set(tuning.names) & set(report.names)
            if shared:
                raise ValueError(f"the tuning and report images must differ; both have {sorted(shared)}")
            return tuning, report
        return held_out_split(images.crop_size)

    def candidates(self, layer: str) -> list[TunedPresetMethod]:
        if not (self.data_weights and self.prior_finals and self.iterations_scales):
            raise ValueError("every grid (--data_weights, --prior_finals, --iterations_scales) needs at least one value")
        return [
            TunedPresetMethod(layer, c, p, s) for c, p, s in itertools.product(self.data_weights, self.prior_finals, self.iterations_scales)
        ]

    def run(self, command: str | None = None) -> dict[str, Any]:
        """Tune, report, write the folder; returns the calibration (layer → chosen setting and scores)."""
        self.images.check()
        if not self.network.layers:
            raise ValueError("--network.layers is empty: give the layers to calibrate")
        net = load_network(self.network.name, weights=self.network.weights)
        layers = sorted(dict.fromkeys(net.check_layer(layer) for layer in self.network.layers), key=net.index)
        skips = SkipTracker()
        tuning, report = self.splits(skips)
        plan = {layer: self.candidates(layer) for layer in layers}
        trainer = self.trainer.make()
        folder = StudyFolder(
            "calibrate", self, {"tuning_names": tuning.names, "report_names": report.names}, writer=trainer.is_global_zero, command=command
        ).open()

        def rows_of(method: Method, layer: str, data: EvaluationImages, scale: float) -> list[Row]:
            job = InversionJob(
                net, method, layer, data.names, data.labels, iterations_scale=scale, seed=self.seed_everything, saved_reconstructions=0
            )
            return run_job(trainer, job, data, self.images.batch_size, self.images.num_workers).rows

        tuning_rows: list[Row] = []
        report_rows: list[Row] = []
        calibration: dict[str, Any] = {}
        bar = tqdm(
            total=sum(len(c) for c in plan.values()) + 3 * len(layers),
            desc="calibration",
            unit="job",
            disable=not (self.progress and folder.writer),
        )
        for layer in layers:
            results = {}
            for method in plan[layer]:
                bar.set_postfix_str(f"{layer} · {method.name}")
                results[method] = rows_of(method, layer, tuning, method.iterations_scale)
                tuning_rows += [{"split": "tuning", **r} for r in results[method]]
                bar.update(1)
            folder.write_table("tuning", TUNING_COLUMNS, tuning_rows)
            chosen = choose(results, self.budget_tolerance, self.ssim_fraction)
            for method in (chosen, PresetMethod("mv2016"), PresetMethod("gd-plain")):
                report_rows += rows_of(method, layer, report, chosen.iterations_scale)
                bar.update(1)
            folder.write_table("metrics", COLUMNS, report_rows)
            on_report = [r for r in report_rows if r["method"] == chosen.name and r["layer"] == layer]
            calibration[layer] = {
                "data_weight": chosen.data_weight,
                "prior_final": chosen.prior_final,
                "iterations_scale": chosen.iterations_scale,
                "tuning": {k: round(_mean(results[chosen], k), 4) for k in ("feature_error", "ssim")},
                "report": {k: round(_mean(on_report, k), 4) for k in ("feature_error", "ssim")},
            }
            folder.write_text(
                "calibration.yaml",
                yaml.safe_dump({"net": net.name, "weights": self.network.weights, "layers": calibration}, sort_keys=False),
            )
        bar.close()
        if folder.writer:
            self._report(folder, net, layers, calibration, report_rows)
        folder.finish()
        return calibration

    def _report(
        self, folder: StudyFolder, net: FeatureNetwork, layers: Sequence[str], calibration: dict[str, Any], rows: Sequence[Row]
    ) -> None:
        summary = markdown_table(
            ["layer", "C", "prior fade to", "budget", "tuning feature error", "tuning SSIM", "report feature error", "report SSIM"],
            [
                [
                    layer,
                    f"{c['data_weight']:g}",
                    f"{c['prior_final']:g}",
                    f"×{c['iterations_scale']:g}",
                    f"{c['tuning']['feature_error']:.3f}",
                    f"{c['tuning']['ssim']:.3f}",
                    f"{c['report']['feature_error']:.3f}",
                    f"{c['report']['ssim']:.3f}",
                ]
                for layer, c in calibration.items()
            ],
        )
        sections = ["## Chosen settings\n\n" + summary]
        for layer in layers:
            methods = list(dict.fromkeys(r["method"] for r in rows if r["layer"] == layer))
            sections.append(
                f"## Report split, {layer}\n\n" + layer_table(rows, layer, methods) + "\n\n" + evidence_table(rows, layer, methods)
            )
        intro = (
            f"Tuned on {len(folder.config['tuning_names'])} images, reported on {len(folder.config['report_names'])} others. "
            "Data: [tuning.csv](tuning.csv) (every candidate), [metrics.csv](metrics.csv) (report split), "
            "[calibration.yaml](calibration.yaml)."
        )
        folder.write_report(f"Calibration of mv2016 for {net.name} ({self.network.weights} weights)", sections, intro=intro)
        folder.print_done(summary)
