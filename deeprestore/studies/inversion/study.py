"""The inversion study (``python evaluate.py inversion``): every method at every layer, scored.

For each target layer of a network and each method — the optimisation presets, ``mv2016`` plus
each learned prior, and every trained inverting network found under ``checkpoints`` (at its own
layer) — the images are reconstructed from their features and scored (:mod:`.scoring`). A *job*
is one ``(method, layer)`` pair; each job is one ``Trainer.predict`` loop over the images
(:class:`~deeprestore.studies.inversion.job.InversionJob`), so ``--trainer.devices 8
--trainer.strategy ddp`` shares the images out over 8 GPUs (and ``--trainer.num_nodes`` over
machines). Images stream from their files through a DataLoader.

The study folder (``<report_root>/<experiment>/``; every file written atomically by rank 0)::

    config.yaml  metrics.csv  metrics.json  report.md
    plots/<metric>.png  plots/layers_<image>.png  grids/<method>_<layer>.png
    reconstructions/<method>_<layer>.pt  reconstructions/originals.pt  wandb/

``metrics.csv`` is rewritten after every job; rerunning with the same ``--experiment`` skips the
jobs whose rows cover every image (resume after an interruption, at job granularity), and refuses
a folder whose settings would give other numbers (:data:`RESUME_KEYS`).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import torch
import torchvision
from lightning.pytorch.utilities import rank_zero_only
from tqdm.auto import tqdm

from datamodules.evaluation_images import EvaluationImages, held_out_images, images_from_paths
from datamodules.skips import SkipTracker
from deeprestore.atomic_io import atomic_write
from deeprestore.inversion import Execution, get_preset
from deeprestore.metrics import comparison_grid, perceptual_metric, save_png
from deeprestore.nets import FeatureNetwork, load_network
from deeprestore.studies.inversion.inverter_checkpoints import find_inverter_checkpoints
from deeprestore.studies.inversion.job import InversionJob
from deeprestore.studies.inversion.leaderboard import leaderboard_markdown, leaderboard_rows
from deeprestore.studies.inversion.methods import HybridMethod, LearnedPriorMethod, Method, PresetMethod
from deeprestore.studies.inversion.report import (
    ORIGINALS_FILE,
    report_sections,
    ssim_summary_table,
    wandb_job_payload,
    wandb_study_payload,
)
from deeprestore.studies.inversion.scoring import COLUMNS, Row, perceptual_columns, read_rows, verifier_columns
from deeprestore.studies.option_groups import ImageOptions, NetworkOptions, OptimisationOptions, PerceptualOptions, VerifierOptions
from deeprestore.studies.predict_job import run_job
from deeprestore.studies.study_folder import StudyFolder, StudyOptions, file_stem
from deeprestore.studies.trainer_options import TrainerOptions

__all__ = [
    "DEFAULT_LAYERS",
    "RESUME_KEYS",
    "HybridOptions",
    "InversionOptions",
    "InversionStudy",
    "StudyResult",
    "plan_jobs",
    "spread_layers",
    "verifier_layer",
]

#: ``layers`` when none are given, per network.
DEFAULT_LAYERS: dict[str, list[str]] = {
    "efficientnet_lite0": ["stem", "block1", "block2", "block4", "block6", "block8", "block12", "block16"],
    # Lite1 and Lite2 at Lite0's positions: the same stage, its first or last block (same stride)
    "efficientnet_lite1": ["stem", "block1", "block2", "block5", "block8", "block11", "block16", "block21"],
    "efficientnet_lite2": ["stem", "block1", "block2", "block5", "block8", "block11", "block16", "block21"],
    "alexnet": ["relu1", "pool1", "relu2", "relu3", "relu4", "relu5", "relu6", "relu7", "fc8"],
    "vgg16": ["relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3", "relu6", "relu7", "fc8"],
}
#: Settings that change the numbers: a study folder refuses a rerun where they differ. The batch
#: size is one: convolution kernels may round differently at another batch size, and the
#: optimisation amplifies rounding; so are the network pass's execution (with its precision
#: resolved against the Trainer's), the Trainer's precision and the number of processes (which
#: shares the images out into other batches), and the versions of torch and torchvision (their
#: kernels and transforms).
RESUME_KEYS: tuple[str, ...] = (
    "network.name",
    "network.weights",
    "images.files",
    "image_names",
    "images.crop_size",
    "optimisation.iterations_scale",
    "optimisation.budget",
    "seed_everything",
    "images.batch_size",
    "random_streams",
    "execution",
    "precision",
    "world_size",
    "versions",
    "verifiers.names",
    "perceptual.names",
    "perceptual.weights",
)
#: How the initial noise is seeded; part of the config, so a folder made another way is refused.
RANDOM_STREAMS = "per-image (pixels + seed)"


def package_versions() -> dict[str, str]:
    """The versions of the packages whose kernels give the numbers (a resume key)."""
    return {"torch": str(torch.__version__), "torchvision": str(torchvision.__version__)}


def spread_layers(net: FeatureNetwork, count: int = 8) -> list[str]:
    """``count`` of the network's module layers spread evenly from the first to the last before
    the logits: the default for a network without a :data:`DEFAULT_LAYERS` entry."""
    candidates = [layer for layer in net.module_layers if layer != net.logits_layer]
    if len(candidates) <= count:
        return candidates
    return [candidates[round(i * (len(candidates) - 1) / (count - 1))] for i in range(count)]


def verifier_layer(net: FeatureNetwork, layer: str, verifier: FeatureNetwork) -> str:
    """The verifier's layer whose feature error scores a reconstruction from ``net``'s ``layer``:
    the one at the same position of their :data:`DEFAULT_LAYERS` lists (EfficientNet-Lite0's block4
    ↔ Lite1's block5: the same stage and stride), else the verifier's logits."""
    ours, theirs = DEFAULT_LAYERS.get(net.name, []), DEFAULT_LAYERS.get(verifier.name, [])
    if layer in ours and len(theirs) == len(ours):
        return theirs[ours.index(layer)]
    return verifier.logits_layer


def plan_jobs(methods: Sequence[Method], layers: Sequence[str], net: FeatureNetwork) -> list[tuple[Method, str]]:
    """Every ``(method, layer)`` job, from each method's :meth:`~.methods.Method.layers`.

    Raises:
        ValueError: an unknown layer (the message lists the network's layers), or no job.
    """
    for layer in layers:
        net.check_layer(layer)
    jobs = [(m, net.check_layer(layer)) for m in methods for layer in m.layers(layers, net)]
    if not jobs:
        raise ValueError("nothing to evaluate: no presets and no inverting-network checkpoints")
    return jobs


def finished_jobs(rows: Sequence[Row], net: str, names: Sequence[str]) -> set[tuple[str, str]]:
    """``(method, layer)`` jobs whose rows cover every image."""
    seen: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        if row["net"] == net:
            seen.setdefault((row["method"], row["layer"]), set()).add(row["image"])
    wanted = set(names)
    return {job for job, images in seen.items() if wanted <= images}


@dataclass
class StudyResult:
    """What :meth:`InversionStudy.run` returns.

    Attributes:
        folder: the study folder.
        rows: every row of ``metrics.csv`` (earlier runs' included).
        ran: the jobs run now, as ``(method, layer)``.
        skipped: the jobs found finished in ``metrics.csv`` and skipped.
        diverged: ``(method, layer, image)`` of the images that diverged in this run.
    """

    folder: Path
    rows: list[Row]
    ran: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    diverged: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class HybridOptions:
    """Hybrid methods: each preset's optimisation started from each inverting network found, at
    its layer (:class:`~deeprestore.studies.inversion.methods.HybridMethod`; docs/hybrid_inversion.md).

    Args:
        presets: the presets (``[]``: no hybrid methods), e.g. ``[mv2016-calibrated]``.
        fraction: of each preset's iterations (after ``--optimisation.budget`` or ``iterations_scale``),
            in [0, 1]; 0 returns the inverter's output.
    """

    presets: list[str] = field(default_factory=list)
    fraction: float = 0.25

    def check(self) -> None:
        """Reject values that cannot run (one line each), unknown presets included."""
        if not 0 <= self.fraction <= 1:
            raise ValueError(f"--hybrid.fraction must be in [0, 1] (a fraction of the preset's iterations), got {self.fraction}")
        for preset in self.presets:
            get_preset(preset)


@dataclass
class InversionOptions(StudyOptions):
    """What the inversion study runs on a network, and how: every option but the network
    (shared by :class:`InversionStudy` and the networks study, which runs it on several).

    Args:
        images: the photos (``--images.files``, ``--images.crop_size``, ``--images.batch_size`` …;
            default: the 22-image labelled held-out set of
            :func:`datamodules.evaluation_images.held_out_images`).
        optimisation: the optimisation presets and their iterations (``--optimisation.presets``,
            ``--optimisation.iterations_scale``, ``--optimisation.budget``).
        checkpoints: folder of ``train.py`` experiments whose inverting networks are evaluated too
            (``""`` or null: none).
        learned_priors: PatchPriorModule / DAEPriorModule checkpoints added to ``learned_prior_base`` as
            extra methods, named ``<base>+<run folder>``.
        learned_prior_weights: λ of each learned prior, in order (default 0.1 each; see docs/learned_priors.md).
        learned_prior_base: the preset the learned priors are added to.
        hybrid: optimisations started from the inverting networks found (``--hybrid.presets
            [mv2016-calibrated] --hybrid.fraction 0.25``).
        leaderboard: also write the leaderboard page of every method here (``docs/leaderboard.md``;
            :mod:`~deeprestore.studies.inversion.leaderboard`) and log it as a W&B table (null: not).
        verifiers: networks that were not inverted, scoring every reconstruction
            (``--verifiers.names [efficientnet_lite1, efficientnet_lite2]``; default none; columns in
            :mod:`~deeprestore.studies.inversion.scoring`).
        perceptual: perceptual distances scoring every reconstruction (``--perceptual.names
            [lpips-alex, dists]``; default none): LPIPS (Zhang et al. 2018) and DISTS (Ding et al.
            2020) on the user's ImageNet backbones in ``$TORCH_HOME/hub/checkpoints`` (a missing
            file is one line before anything runs); ``--perceptual.weights random``: plumbing tests only.
        grid_images: images per comparison grid (0: none).
        sweep_images: images shown in the report's layer-sweep figures.
        saved_reconstructions: reconstructions saved per job (the first images; -1: all).
        execution: how the optimisations run the network pass (``--execution.compile true``,
            ``--execution.channels_last false``; its precision follows ``--trainer.precision``
            unless ``--execution.precision 32`` or ``bf16`` says otherwise; see
            :class:`~deeprestore.inversion.Execution`).
        trainer: where the images are processed (``--trainer.devices 8 --trainer.strategy ddp``).
    """

    images: ImageOptions = field(default_factory=ImageOptions)
    optimisation: OptimisationOptions = field(default_factory=lambda: OptimisationOptions(presets=["mv2016", "gd-plain"]))
    checkpoints: str | None = "checkpoints"
    learned_priors: list[str] = field(default_factory=list)
    learned_prior_weights: list[float] = field(default_factory=list)
    learned_prior_base: str = "mv2016"
    hybrid: HybridOptions = field(default_factory=HybridOptions)
    verifiers: VerifierOptions = field(default_factory=lambda: VerifierOptions(names=[]))
    perceptual: PerceptualOptions = field(default_factory=PerceptualOptions)
    leaderboard: str | None = None
    grid_images: int = 8
    sweep_images: int = 2
    saved_reconstructions: int = 64
    execution: Execution = field(default_factory=Execution)
    trainer: TrainerOptions = field(default_factory=TrainerOptions)

    def check(self) -> None:
        """Reject option values that cannot run (one line each)."""
        self.images.check()
        self.optimisation.check()
        if self.learned_prior_weights and len(self.learned_prior_weights) != len(self.learned_priors):
            raise ValueError(
                f"--learned_prior_weights needs one weight per learned prior ({len(self.learned_priors)}), "
                f"got {len(self.learned_prior_weights)}"
            )
        get_preset(self.learned_prior_base)
        self.hybrid.check()
        self.verifiers.check()
        self.perceptual.check()


@dataclass
class InversionStudy(InversionOptions):
    """Reconstruct images from a network's features at each layer with each method; score them.

    Args:
        network: the network and its target layers (``--network.name``, ``--network.weights``,
            ``--network.layers``; layers default to the network's list in :data:`DEFAULT_LAYERS`,
            else :func:`spread_layers`).
    """

    network: NetworkOptions = field(default_factory=NetworkOptions)

    def methods(self, net: FeatureNetwork) -> list[Method]:
        """Presets, then learned priors, then the inverting networks found (notes printed), then
        the hybrids of each hybrid preset with each of them."""
        weights = self.learned_prior_weights or [0.1] * len(self.learned_priors)
        learned = [
            LearnedPriorMethod.from_checkpoint(p, w, self.learned_prior_base, self.trust_checkpoints)
            for p, w in zip(self.learned_priors, weights)
        ]
        inverters, notes = find_inverter_checkpoints(self.checkpoints, net.name, self.network.weights) if self.checkpoints else ([], [])
        for note in notes:
            rank_zero_only(print)(f"note: {note}")
        hybrids = [HybridMethod(p, inverter, self.hybrid.fraction) for p in dict.fromkeys(self.hybrid.presets) for inverter in inverters]
        return [PresetMethod(p) for p in dict.fromkeys(self.optimisation.presets)] + learned + inverters + hybrids

    def dataset(self, skips: SkipTracker) -> EvaluationImages:
        images = self.images
        return images_from_paths(images.files, images.crop_size, skips, images.scan) if images.files else held_out_images(images.crop_size)

    def resolve_layers(self, net: FeatureNetwork) -> list[str]:
        """The layers asked for (or the network's defaults), checked, in network order, no repeats."""
        chosen = self.network.layers or DEFAULT_LAYERS.get(net.name) or spread_layers(net)
        return sorted(dict.fromkeys(net.check_layer(layer) for layer in chosen), key=net.index)

    def run(self, command: str | None = None) -> StudyResult:
        """Run (or resume) the study, write the folder, log to W&B; returns the rows.

        Raises:
            ValueError / FileNotFoundError: a bad option, image path or checkpoint, or a perceptual
                metric's missing backbone (checked before anything is written).
        """
        self.check()
        net = load_network(self.network.name, weights=self.network.weights)
        layers = self.resolve_layers(net)
        skips = SkipTracker()
        data = self.dataset(skips)
        methods = self.methods(net)
        verifiers = {name: load_network(name) for name in self.verifiers.names}
        perceptual = {name: perceptual_metric(name, self.perceptual.weights) for name in self.perceptual.names}
        columns = COLUMNS + verifier_columns(self.verifiers.names) + perceptual_columns(self.perceptual.names)
        jobs = plan_jobs(methods, layers, net)
        trainer = self.trainer.make()
        execution = self.execution.for_trainer_precision(trainer.precision)
        config = {
            "layers": layers,
            "image_names": data.names,
            "random_streams": RANDOM_STREAMS,
            "execution": asdict(execution),
            "precision": trainer.precision,
            "world_size": trainer.world_size,
            "versions": package_versions(),
            "methods": [m.describe() for m in methods],
        }
        folder = StudyFolder("inversion", self, config, resume_keys=RESUME_KEYS, writer=trainer.is_global_zero, command=command).open()
        rows = read_rows(folder.path / "metrics.csv")
        done = finished_jobs(rows, net.name, data.names)
        keep = len(data) if self.saved_reconstructions < 0 else min(self.saved_reconstructions, len(data))
        originals = torch.stack([data[i]["image"] for i in range(keep)]) if keep else torch.empty(0)  # type: ignore[misc]
        if folder.writer:
            payload = {"images": data.names[:keep], "originals": originals}
            atomic_write(folder.path / "reconstructions" / ORIGINALS_FILE, lambda f: torch.save(payload, f))
        result = StudyResult(folder.path, rows)
        bar = tqdm(jobs, desc="inversion study", unit="job", disable=not (self.progress and folder.writer))
        for method, layer in bar:
            job = (method.name, layer)
            bar.set_postfix(method=method.name, layer=layer)
            if job in done:
                result.skipped.append(job)
                continue
            module = InversionJob(
                net,
                method,
                layer,
                data.names,
                data.labels,
                iterations_scale=self.optimisation.scale_for(method.iterations),
                seed=self.seed_everything,
                saved_reconstructions=keep,
                progress=self.progress,
                execution=execution,
                verifiers={name: (v, verifier_layer(net, layer, v)) for name, v in verifiers.items()},
                perceptual=perceptual,
            )
            run_job(trainer, module, data, self.images.batch_size, self.images.num_workers)
            result.rows = [r for r in result.rows if (r["method"], r["layer"]) != job or r["net"] != net.name] + module.rows
            result.ran.append(job)
            result.diverged += [(r["method"], r["layer"], r["image"]) for r in module.rows if r["diverged"]]
            if folder.writer:
                self._save_job(folder, module, originals)
                folder.write_table("metrics", columns, result.rows)
                folder.log_wandb(partial(wandb_job_payload, folder=folder.path, rows=module.rows, method=method.name, layer=layer))
        bar.close()
        if folder.writer:
            folder.write_table("metrics", columns, result.rows, json_too=True)
            notes = {
                m.name: {layer: note for layer in m.layers(layers, net) if (note := m.data_weight_note(net, layer, self.images.crop_size))}
                for m in methods
            }
            sections = report_sections(
                folder.path,
                result.rows,
                net.layer_names,
                self.sweep_images,
                {k: v for k, v in notes.items() if v},
                perceptual_weights=self.perceptual.weights,
            )
            folder.write_report(f"Inversion study: {net.name} ({self.network.weights} weights)", sections)
            folder.log_wandb(lambda wandb: wandb_study_payload(wandb, folder.path, result.rows, net.layer_names))
            if self.leaderboard:
                self._write_leaderboard(folder, result.rows, net, command)
            folder.finish()
            self._print_summary(folder, result, net.layer_names, skips)
        return result

    def _write_leaderboard(self, folder: StudyFolder, rows: list[Row], net: FeatureNetwork, command: str | None) -> None:
        """``--leaderboard``: the page (atomically) and a W&B table of the same rows."""
        title = f"Leaderboard: inverting {net.name} ({self.network.weights} weights)"
        date = datetime.date.today().isoformat()
        page = leaderboard_markdown(rows, net.layer_names, title=title, command=command or "python evaluate.py inversion …", date=date)
        atomic_write(self.leaderboard, lambda f: f.write(page.encode()))
        board = leaderboard_rows(rows, net.layer_names)
        columns = list(board[0]) if board else []
        folder.log_wandb(lambda wandb: {"leaderboard": wandb.Table(columns=columns, data=[[e[c] for c in columns] for e in board])})
        print(f"leaderboard: {self.leaderboard}")

    def _save_job(self, folder: StudyFolder, job: InversionJob, originals: torch.Tensor) -> None:
        """``grids/<method>_<layer>.png`` and ``reconstructions/<method>_<layer>.pt`` of the saved images."""
        stem = f"{file_stem(job.method.name)}_{file_stem(job.layer)}"
        indices = list(job.reconstructions)
        recon = torch.stack(list(job.reconstructions.values())) if indices else torch.empty(0)
        if self.grid_images > 0 and indices:
            k = min(self.grid_images, len(indices))
            save_png(comparison_grid(originals[indices[:k]], recon[:k].clamp(0, 1)), folder.path / "grids" / f"{stem}.png")
        payload = {"images": [job.names[i] for i in indices], "reconstructions": recon}
        atomic_write(folder.path / "reconstructions" / f"{stem}.pt", lambda f: torch.save(payload, f))

    @staticmethod
    def _print_summary(folder: StudyFolder, result: StudyResult, layer_order: Sequence[str], skips: SkipTracker) -> None:
        print(f"\nran {len(result.ran)} job(s), skipped {len(result.skipped)} finished job(s) found in {folder.path / 'metrics.csv'}")
        if result.diverged:
            print(f"diverged: {', '.join('/'.join(d) for d in result.diverged)}")
        if len(skips):
            print(skips.report())
        folder.print_done("mean SSIM by layer:\n" + ssim_summary_table(result.rows, layer_order))
