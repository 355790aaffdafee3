"""The LP study (``python evaluate.py lp``): Lei et al.'s layer-wise linear programs against
gradient descent, on random ReLU networks and, optionally, a trained generator.

Writes ``lp_inversion.csv`` (rewritten after each experiment), ``plots/`` and ``report.md`` into
the study folder; see :mod:`deeprestore.studies.lp.experiments` for the experiments and columns.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from deeprestore.generative.vae_module import load_generator
from deeprestore.studies.lp.experiments import LP_COLUMNS, LP_METHODS, dimension_study, noise_study, trained_generator_study
from deeprestore.studies.lp.report import lp_figures, lp_report
from deeprestore.studies.study_folder import StudyFolder, StudyOptions, figure_links

__all__ = ["LPStudy"]

INTRO = (
    "Lei, Jalal, Dhillon & Dimakis (2019): layer-wise linear programs (scipy HiGHS) against gradient descent (Adam with "
    "restarts). Relative latent error ‖ẑ − z‖/‖z‖; success: < 1e-6 without noise, < 10 × the noise level with it. "
    "Data: [lp_inversion.csv](lp_inversion.csv)."
)


@dataclass
class LPStudy(StudyOptions):
    """Invert ReLU generators one layer at a time by linear programs (Lei et al. 2019).

    Args:
        widths: widths of the random ReLU networks of the noise experiment, latent first.
        noise_levels: relative noise levels (noise std = level × ‖G(z)‖/√n).
        trials: random networks per noise level.
        methods: ``lp`` (eq. 3), ``lp-linf``, ``lp-l1`` (Section 4), ``gd`` (Adam with restarts).
        latent_dims: latent dimensions of the expansion experiment.
        expansions: width ratio of consecutive layers (two layers) in the expansion experiment.
        dimension_trials: networks per (latent dimension, expansion); 0 skips that experiment.
        vae_generator: also invert this trained generator (a VAEGeneratorModule checkpoint).
        vae_generator_trials: random latents for the trained generator.
        processes: processes solving the random-network trials in parallel (0: one per usable CPU;
            the rows do not depend on it, except their ``seconds``).
    """

    widths: list[int] = field(default_factory=lambda: [20, 100, 500])
    noise_levels: list[float] = field(default_factory=lambda: [0.0, 1e-3, 1e-2, 1e-1])
    trials: int = 200
    methods: list[str] = field(default_factory=lambda: list(LP_METHODS))
    latent_dims: list[int] = field(default_factory=lambda: [5, 10, 20, 40])
    expansions: list[int] = field(default_factory=lambda: [2, 3, 5])
    dimension_trials: int = 50
    vae_generator: str | None = None
    vae_generator_trials: int = 20
    processes: int = 0

    def check(self) -> None:
        if self.trials < 1 or self.dimension_trials < 0 or self.vae_generator_trials < 0:
            raise ValueError(
                f"--trials must be positive and the other trial counts non-negative, got {self.trials}, "
                f"{self.dimension_trials}, {self.vae_generator_trials}"
            )
        unknown = [m for m in self.methods if m not in LP_METHODS]
        if unknown or not self.methods:
            raise ValueError(f"--methods {unknown or '(none)'}: choose from {', '.join(LP_METHODS)}")
        if self.processes < 0:
            raise ValueError(f"--processes must be 0 (one per CPU) or more, got {self.processes}")
        if self.vae_generator and not Path(self.vae_generator).is_file():
            raise FileNotFoundError(f"no generator checkpoint at {self.vae_generator}")

    def run(self, command: str | None = None) -> list[dict]:
        """Run the experiments; write the CSV after each, then the figures and the report."""
        self.check()
        folder = StudyFolder("lp", self, command=command).open()
        seed, progress = self.seed_everything, self.progress
        processes = self.processes or len(os.sched_getaffinity(0))
        rows: list[dict] = noise_study(
            tuple(self.widths),
            tuple(self.noise_levels),
            self.trials,
            tuple(self.methods),
            seed=seed,
            progress=progress,
            processes=processes,
        )
        folder.write_table("lp_inversion", LP_COLUMNS, rows)
        two_methods = tuple(m for m in ("lp", "gd") if m in self.methods) or ("lp",)
        if self.dimension_trials and self.latent_dims and self.expansions:
            rows += dimension_study(
                tuple(self.latent_dims),
                tuple(self.expansions),
                trials=self.dimension_trials,
                methods=two_methods,
                seed=seed,
                progress=progress,
                processes=processes,
            )
            folder.write_table("lp_inversion", LP_COLUMNS, rows)
        if self.vae_generator and self.vae_generator_trials:
            generator = load_generator(self.vae_generator, "--vae_generator", trusted=self.trust_checkpoints).double()
            rows += trained_generator_study(generator, trials=self.vae_generator_trials, methods=two_methods, seed=seed, progress=progress)
            folder.write_table("lp_inversion", LP_COLUMNS, rows, json_too=True)
        figures = lp_figures(rows, folder.path / "plots")
        table = lp_report(rows)
        folder.publish(
            "Inverting ReLU generators one layer at a time",
            [table, figure_links(figures)],
            ("lp_inversion", LP_COLUMNS, rows),
            figures=figures,
            intro=INTRO,
            summary=table,
        )
        return rows
