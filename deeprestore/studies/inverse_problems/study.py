"""The inverse-problems study (``python evaluate.py inverse-problems``): CSGM against ILO.

Test images are measured by forward operators (inpainting, denoising, super-resolution,
compressed sensing at one or several measurement counts) and reconstructed from the measurements
alone with a generator, by CSGM (Bora et al. 2017: Adam on the latent) and ILO (Daras et al. 2021:
layer by layer, l1-ball projections), on the same budget. Two sets of test images, as in Daras et
al. §5:

* **in range** (``in_range`` images): the generator's own samples from latents no method sees;
* **out of range**: real photos (``images``, by default the held-out sample photos for a
  generator trained here, or the astronaut's face, :mod:`datamodules.face_photos`, for the
  pretrained face generator).

ILO's l1 radii can be tuned per operator on a validation split (``radius_scales``: multiples of
``ilo_radii`` tried on ``validation_samples`` other generator samples, the lowest mean MSE kept,
through the same Trainer as the test images) and are then fixed for the test images. Writes ``inverse_problems.csv``, ``plots/`` (a figure per
operator, MSE by operator, MSE against the measurement count) and ``report.md``; see
:mod:`deeprestore.studies.inverse_problems.experiment`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import torch

from datamodules.evaluation_images import StackedImages, images_from_paths, sample_photo_crops
from datamodules.face_photos import astronaut_faces
from datamodules.skips import SkipTracker
from deeprestore.generative.dcgan_faces import face_generator
from deeprestore.generative.ilo import csgm, ilo
from deeprestore.generative.operators import OPERATOR_NAMES, ForwardOperator, make_operator
from deeprestore.generative.staged_generator import StagedGenerator
from deeprestore.generative.vae_module import load_generator
from deeprestore.metrics import markdown_table, mean_std
from deeprestore.studies.inverse_problems.experiment import (
    AT,
    INVERSE_PROBLEM_COLUMNS,
    InverseProblemJob,
    Method,
    inverse_problems_table,
    operator_name,
    run_inverse_problems_study,
)
from deeprestore.studies.inverter_generator import inverter_generator, is_inverter_checkpoint
from deeprestore.studies.option_groups import ImageOptions
from deeprestore.studies.predict_job import run_job
from deeprestore.studies.study_folder import StudyFolder, StudyOptions, figure_links
from deeprestore.studies.trainer_options import TrainerOptions

__all__ = ["FACE_GENERATOR", "InverseProblemsStudy", "study_generator"]

#: the ``--generator`` value of the pretrained DCGAN face generator (``gan-face-generate``)
FACE_GENERATOR = "dcgan-faces"
CS_OPERATORS = ("cs-gaussian", "cs-circulant")
#: latent streams of the in-range test images and of the validation images (never the methods' starts)
IN_RANGE_SEED, VALIDATION_SEED = 10**6, 2 * 10**6


def study_generator(spec: str, image_size: int = 128, trusted: bool = False) -> tuple[StagedGenerator, torch.Tensor | None]:
    """The generator of ``--generator`` and, for an inverting network, the latents of its
    reference photos (else ``None``): ``dcgan-faces`` (the installed face generator), a
    ``weights.tar`` of it, a :class:`~deeprestore.generative.VAEGeneratorModule` checkpoint, or a
    modular inverting-network checkpoint (:mod:`.inverter_generator`; its images are
    ``image_size``², its reference photos the held-out sample photos' five crops). A checkpoint is
    read as data unless ``trusted`` (:func:`~deeprestore.checkpoint_files.read_checkpoint`).

    Raises:
        FileNotFoundError: a missing file, with how to make or get it.
    """
    if spec == FACE_GENERATOR:
        return face_generator(), None
    if spec.endswith(".tar"):
        return face_generator(spec), None
    if not Path(spec).is_file():
        raise FileNotFoundError(
            f"no generator checkpoint at {spec}; train one with `python train.py --config "
            f"configs/generators/vae_conv_photos.yaml`, or use --generator {FACE_GENERATOR}"
        )
    if is_inverter_checkpoint(spec, trusted):
        return inverter_generator(spec, sample_photo_crops(image_size, 2 * image_size, "five")[0], trusted)
    return load_generator(spec, trusted=trusted), None


def generator_samples(generator: StagedGenerator, count: int, seed: int) -> torch.Tensor:
    """``count`` images ``G(z)``, ``z ~ N(0, I)`` from the stream ``seed``."""
    with torch.no_grad():
        return generator(generator.sample_latent(count, torch.Generator().manual_seed(seed))).float().clamp(0, 1)


@dataclass
class InverseProblemsStudy(StudyOptions):
    """Reconstruct images from measurements with a generator: CSGM against ILO, in and out of its range.

    Args:
        generator: ``dcgan-faces`` (the pretrained DCGAN face generator: ``pip install -e ".[faces]"``),
            its ``weights.tar``, or a VAEGeneratorModule checkpoint
            (``train.py --config configs/generators/vae_conv_photos.yaml``).
        operators: forward operators, from inpaint-pixels, inpaint-box, denoise, super-resolution,
            cs-gaussian, cs-circulant.
        measurements: measurement counts of the compressed-sensing operators, each a run of its
            own (empty: ``n/8`` of the ``n`` pixel values).
        noise_std: measurement noise std in [0, 1] units of every operator (0: none, and 0.1 for denoise).
        ilo_layers: layers ILO optimises in turn (0 = the latent).
        ilo_steps: Adam steps per ILO layer; CSGM gets their sum.
        ilo_radii: l1 radius of each layer after the latent, relative to the layer's l1 norm.
        radius_scales: multiples of ``ilo_radii`` tried per operator on the validation images (the
            lowest mean MSE is used on the test images); one value: no tuning.
        validation_samples: generator samples (from their own latents) the radii are tuned on.
        lr: peak Adam learning rate (ramped) of ILO and CSGM.
        restarts: random latent starts per image (the best by measurement error is kept).
        latent_weight: λ of Bora et al.'s λ‖z‖² on the latent.
        in_range: the generator's own samples among the test images (latents no method sees; for an
            inverting network, its reconstructions of the first reference photos).
        images: the out-of-range photos (``--images.files``; default: the held-out sample photos
            chelsea and coffee at twice the generator's size, five crops each, or six views of the
            astronaut's face for the face generator; ``[]``: none); ``--images.crop_size`` is the
            image side of an inverting network used as the generator (its training crop), and
            ``--images.batch_size`` the images per batch and process.
        trainer: where the images are processed (``--trainer.devices 8 --trainer.strategy ddp``).
    """

    generator: str = "checkpoints/generator_vae_conv/last.ckpt"
    operators: list[str] = field(default_factory=lambda: list(OPERATOR_NAMES))
    measurements: list[int] = field(default_factory=list)
    noise_std: float = 0.0
    ilo_layers: list[int] = field(default_factory=lambda: [0, 1, 2, 3])
    ilo_steps: list[int] = field(default_factory=lambda: [50, 50, 25, 25])
    ilo_radii: list[float] = field(default_factory=lambda: [0.1, 0.2, 0.3])
    radius_scales: list[float] = field(default_factory=lambda: [1.0])
    validation_samples: int = 8
    lr: float = 0.1
    restarts: int = 1
    latent_weight: float = 0.0
    in_range: int = 0
    images: ImageOptions = field(default_factory=lambda: ImageOptions(batch_size=16))
    trainer: TrainerOptions = field(default_factory=TrainerOptions)

    def check(self) -> None:
        """Reject option values that cannot run (one line each)."""
        self.images.check()
        unknown = [o for o in self.operators if o not in OPERATOR_NAMES]
        if unknown or not self.operators:
            raise ValueError(f"--operators {unknown or '(none)'}: choose from {', '.join(OPERATOR_NAMES)}")
        if any(m < 1 for m in self.measurements):
            raise ValueError(f"--measurements must be positive counts, got {self.measurements}")
        if not self.radius_scales or any(s < 0 for s in self.radius_scales):
            raise ValueError(f"--radius_scales needs non-negative values, got {self.radius_scales}")
        if self.in_range < 0 or self.validation_samples < 1:
            raise ValueError(
                f"--in_range must be 0 or more and --validation_samples positive, got {self.in_range}, {self.validation_samples}"
            )

    def operator_table(self, shape: tuple[int, ...]) -> dict[str, ForwardOperator]:
        """Operator key → operator: a CS operator at each of ``measurements`` (``<name>@<m>``)."""
        ops: dict[str, ForwardOperator] = {}
        for name in self.operators:
            counts = self.measurements if name in CS_OPERATORS and self.measurements else [None]
            for m in counts:
                options = {} if m is None else {"num_measurements": m}
                key = name if m is None else f"{name}{AT}{m}"
                ops[key] = make_operator(name, shape, seed=self.seed_everything, noise_std=self.noise_std, **options)
        return ops

    def ilo_method(self, scale: float) -> Method:
        radii = [scale * r for r in self.ilo_radii]
        return lambda g, op, y, s: ilo(
            g,
            op,
            y,
            layers=self.ilo_layers,
            steps=self.ilo_steps,
            radii=radii,
            lr=self.lr,
            restarts=self.restarts,
            latent_weight=self.latent_weight,
            seed=s,
        )

    def csgm_method(self) -> Method:
        budget = sum(self.ilo_steps)
        return lambda g, op, y, s: csgm(
            g, op, y, steps=budget, lr=self.lr, restarts=self.restarts, latent_weight=self.latent_weight, seed=s
        )

    def tune_radius_scales(self, generator: StagedGenerator, ops: dict[str, ForwardOperator], trainer: L.Trainer) -> dict[str, float]:
        """Per operator key, the scale of ``radius_scales`` with the lowest mean MSE on the
        validation samples: one predict job per (operator, scale), on the Trainer's devices."""
        if len(self.radius_scales) == 1:
            return {key: self.radius_scales[0] for key in ops}
        samples = generator_samples(generator, self.validation_samples, VALIDATION_SEED + self.seed_everything)
        validation = StackedImages(samples, [f"validation_{k:02d}" for k in range(len(samples))])
        chosen = {}
        for i, (key, op) in enumerate(ops.items()):
            errors = {}
            for scale in self.radius_scales:
                job = InverseProblemJob(
                    generator,
                    op,
                    operator_name(key),
                    i,
                    "ilo",
                    self.ilo_method(scale),
                    validation.names,
                    seed=self.seed_everything,
                    figure_images=0,
                )
                errors[scale] = mean_std([row["mse"] for row in run_job(trainer, job, validation, self.images.batch_size).rows])[0]
            chosen[key] = min(errors, key=errors.get)
        return chosen

    def test_images(
        self, generator: StagedGenerator, shape: tuple[int, ...], latents: torch.Tensor | None = None
    ) -> tuple[StackedImages, list[str], SkipTracker]:
        """In-range samples, then the out-of-range images; their names and the ``image_set`` of each."""
        size = shape[-1]
        skips = SkipTracker()
        parts: list[tuple[torch.Tensor, list[str], str]] = []
        if self.in_range and latents is not None:
            with torch.no_grad():
                samples = generator(latents[: self.in_range]).float().clamp(0, 1)
            parts.append((samples, [f"reconstruction_{k:02d}" for k in range(len(samples))], "in-range"))
        elif self.in_range:
            samples = generator_samples(generator, self.in_range, IN_RANGE_SEED + self.seed_everything)
            parts.append((samples, [f"sample_{k:02d}" for k in range(self.in_range)], "in-range"))
        if self.images.files:
            files = images_from_paths(self.images.files, size, skips, self.images.scan)
            parts.append((files.stack(), files.names, "out-of-range"))
        elif self.images.files is None:
            faces = self.generator == FACE_GENERATOR or self.generator.endswith(".tar")
            parts.append((*(astronaut_faces(size) if faces else sample_photo_crops(size, 2 * size, "five")), "out-of-range"))
        if not parts:
            raise ValueError("no test images: give --in_range > 0 or --images.files")
        images = torch.cat([p[0].float() for p in parts])
        if tuple(images.shape[1:]) != tuple(shape):
            raise ValueError(f"the test images are {tuple(images.shape[1:])} but the generator makes {tuple(shape)}")
        names = [n for p in parts for n in p[1]]
        sets = [p[2] for p in parts for _ in p[1]]
        return StackedImages(images, names), sets, skips

    def run(self, command: str | None = None) -> list[dict]:
        self.check()
        generator, latents = study_generator(self.generator, self.images.crop_size, self.trust_checkpoints)
        shape = tuple(generator.layer_shapes()[-1])
        if len(shape) != 3:
            raise ValueError(f"{self.generator}: the generator makes {shape}, not images")
        data, sets, skips = self.test_images(generator, shape, latents)
        ops = self.operator_table(shape)
        trainer = self.trainer.make()
        scales = self.tune_radius_scales(generator, ops, trainer)
        folder = StudyFolder(
            "inverse-problems",
            self,
            {"csgm_steps": sum(self.ilo_steps), "image_names": data.names, "radius_scales_chosen": scales},
            writer=trainer.is_global_zero,
            command=command,
        ).open()
        methods = {key: {"csgm": self.csgm_method(), "ilo": self.ilo_method(scales[key])} for key in ops}
        rows = run_inverse_problems_study(
            generator,
            data,
            ops,
            lambda key: methods[key],
            folder,
            trainer,
            batch_size=self.images.batch_size,
            seed=self.seed_everything,
            progress=self.progress,
            sets=sets,
        )
        table = inverse_problems_table(rows)
        figures = sorted((folder.path / "plots").glob("*.png"))
        tuned = ""
        if len(self.radius_scales) > 1:
            tuned = (
                "\n\nILO's radii, tuned per operator on "
                f"{self.validation_samples} validation samples (scales of {self.ilo_radii} tried: "
                f"{self.radius_scales}):\n\n"
                + markdown_table(
                    ["operator", "scale", "radii"], [[k, v, [round(v * r, 4) for r in self.ilo_radii]] for k, v in scales.items()]
                )
            )
        counts = {s: sets.count(s) for s in dict.fromkeys(sets)}
        intro = (
            f"Generator: `{self.generator}` (layers {generator.layer_shapes()}). Test images: "
            + ", ".join(f"{n} {s}" for s, n in counts.items())
            + f", {shape[-1]}×{shape[-1]}. "
            f"CSGM: Adam on the latent for {sum(self.ilo_steps)} steps; ILO: layers {self.ilo_layers}, steps {self.ilo_steps}, "
            f"relative l1 radii {self.ilo_radii}; learning rate {self.lr} (ramped), {self.restarts} start(s). Means over the images; "
            "'lowest MSE': the images on which the method's MSE is the lower. Data: [inverse_problems.csv](inverse_problems.csv)." + tuned
        )
        if not folder.writer:
            return rows
        folder.publish(
            "Inverse problems with a generator: CSGM and ILO",
            [table, figure_links(figures)],
            ("inverse_problems", INVERSE_PROBLEM_COLUMNS, rows),
            figures=figures,
            intro=intro,
            summary=table,
        )
        if self.images.files:
            print(skips.report())
        return rows
