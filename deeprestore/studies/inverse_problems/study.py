"""The inverse-problems study (``python evaluate.py inverse-problems``): CSGM against ILO.

Held-out images are measured by forward operators (inpainting, denoising, super-resolution,
compressed sensing) and reconstructed from the measurements alone with a trained generator, by
CSGM (Bora et al. 2017: Adam on the latent) and ILO (Daras et al. 2021: layer by layer, l1-ball
projections), on the same budget. Writes ``inverse_problems.csv``, ``plots/`` and ``report.md``;
see :mod:`deeprestore.studies.inverse_problems.experiment`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


from datamodules.evaluation_images import StackedImages, image_files, sample_photo_crops
from datamodules.skips import SkipTracker
from deeprestore.generative.ilo import csgm, ilo
from deeprestore.generative.operators import OPERATOR_NAMES, make_operator
from deeprestore.generative.vae_module import load_generator
from deeprestore.studies.inverse_problems.experiment import INVERSE_PROBLEM_COLUMNS, Method, inverse_problems_table, run_inverse_problems_study
from deeprestore.studies.study_folder import StudyFolder, StudyOptions
from deeprestore.studies.trainer_options import TrainerOptions

__all__ = ["InverseProblemsStudy"]


@dataclass
class InverseProblemsStudy(StudyOptions):
    """Reconstruct held-out images from measurements with a trained generator: CSGM against ILO.

    Args:
        generator: a VAEGeneratorModule checkpoint (``train.py --config configs/generators/vae_conv_photos.yaml``).
        operators: forward operators, from inpaint-pixels, inpaint-box, denoise, super-resolution,
            cs-gaussian, cs-circulant.
        noise_std: measurement noise std in [0, 1] units of every operator (0: none, and 0.1 for denoise).
        ilo_layers: layers ILO optimises in turn (0 = the latent).
        ilo_steps: Adam steps per ILO layer; CSGM gets their sum.
        ilo_radii: l1 radius of each layer after the latent, relative to the layer's l1 norm.
        lr: peak Adam learning rate (ramped) of ILO and CSGM.
        restarts: random latent starts per image (the best by measurement error is kept).
        latent_weight: λ of Bora et al.'s λ‖z‖² on the latent.
        images: image files or folders (default: the held-out sample photos chelsea and coffee at
            twice the generator's size, five crops each: the scale it was trained at).
        batch_size: images per batch and process.
        trainer: where the images are processed (``--trainer.devices 8 --trainer.strategy ddp``).
    """

    generator: str = "checkpoints/generator_vae_conv/last.ckpt"
    operators: list[str] = field(default_factory=lambda: list(OPERATOR_NAMES))
    noise_std: float = 0.0
    ilo_layers: list[int] = field(default_factory=lambda: [0, 1, 2, 3])
    ilo_steps: list[int] = field(default_factory=lambda: [50, 50, 25, 25])
    ilo_radii: list[float] = field(default_factory=lambda: [0.1, 0.2, 0.3])
    lr: float = 0.1
    restarts: int = 1
    latent_weight: float = 0.0
    images: list[str] | None = None
    batch_size: int = 16
    trainer: TrainerOptions = field(default_factory=TrainerOptions)

    def methods(self) -> dict[str, Method]:
        """CSGM (``sum(ilo_steps)`` steps: the same budget) and ILO."""
        budget = sum(self.ilo_steps)
        return {
            "csgm": lambda g, op, y, s: csgm(g, op, y, steps=budget, lr=self.lr, restarts=self.restarts, latent_weight=self.latent_weight, seed=s),
            "ilo": lambda g, op, y, s: ilo(g, op, y, layers=self.ilo_layers, steps=self.ilo_steps, radii=self.ilo_radii, lr=self.lr,
                                           restarts=self.restarts, latent_weight=self.latent_weight, seed=s),
        }

    def run(self, command: str | None = None) -> list[dict]:
        unknown = [o for o in self.operators if o not in OPERATOR_NAMES]
        if unknown or not self.operators:
            raise ValueError(f"--operators {unknown or '(none)'}: choose from {', '.join(OPERATOR_NAMES)}")
        if not Path(self.generator).is_file():
            raise FileNotFoundError(f"no generator checkpoint at {self.generator}; train one with "
                                    "`python train.py --config configs/generators/vae_conv_photos.yaml`")
        generator = load_generator(self.generator)
        shape = generator.layer_shapes()[-1]
        if len(shape) != 3:
            raise ValueError(f"{self.generator}: the generator makes {shape}, not images")
        size = shape[-1]
        skips = SkipTracker()
        data = image_files(self.images, size, skips) if self.images else StackedImages(*sample_photo_crops(size, 2 * size, "five"))
        names = data.names
        ops = {name: make_operator(name, shape, seed=self.seed_everything, noise_std=self.noise_std) for name in self.operators}
        trainer = self.trainer.make()
        folder = StudyFolder("inverse-problems", self, {"csgm_steps": sum(self.ilo_steps), "image_names": names},
                             writer=trainer.is_global_zero, command=command).open()
        rows = run_inverse_problems_study(generator, data, ops, self.methods(), folder, trainer, batch_size=self.batch_size,
                                          seed=self.seed_everything, progress=self.progress)
        table = inverse_problems_table(rows)
        figures = sorted((folder.path / "plots").glob("*.png"))
        intro = (f"Generator: `{self.generator}` (layers {generator.layer_shapes()}). Images: {len(names)} held-out {size}×{size} crops. "
                 f"CSGM: Adam on the latent for {sum(self.ilo_steps)} steps; ILO: layers {self.ilo_layers}, steps {self.ilo_steps}, "
                 f"relative l1 radii {self.ilo_radii}; learning rate {self.lr} (ramped), {self.restarts} start(s). Means over the images. "
                 "Data: [inverse_problems.csv](inverse_problems.csv).")
        if not folder.writer:
            return rows
        folder.write_report("Inverse problems with a generator: CSGM and ILO", [table, "\n".join(f"![{p.stem}](plots/{p.name})" for p in figures)],
                            intro=intro)
        folder.log_table("inverse_problems", INVERSE_PROBLEM_COLUMNS, rows, figures)
        folder.finish()
        folder.print_done(table)
        if self.images:
            print(skips.report())
        return rows
