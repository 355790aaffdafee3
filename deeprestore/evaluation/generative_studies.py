"""``evaluate.py --study inverse_problems`` and ``--study lp``: the generative-inversion studies
(issue 5) from parsed options to a report folder (``config.yaml``, the CSV, ``plots/``,
``report.md``, W&B offline)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import yaml

from datamodules.skips import SkipTracker
from deeprestore.atomic_io import atomic_write
from deeprestore.evaluation.inverse_problems_study import inverse_problems_table, run_inverse_problems_study
from deeprestore.evaluation.report import log_wandb_tables
from deeprestore.generative.ilo import csgm, ilo
from deeprestore.generative.operators import make_operator
from deeprestore.generative.vae_module import load_generator

__all__ = ["generator_test_images", "run_inverse_problems", "run_lp"]


def generator_test_images(files: Sequence[str] | None, size: int, skips: SkipTracker | None = None) -> tuple[torch.Tensor, list[str]]:
    """``N×3×size×size`` test images in [0, 1]: centre crops of the given files/folders (skips
    counted in ``skips``), or the held-out sample photos (chelsea, coffee) resized to ``2 × size``
    on the shorter side, five crops each (the scale the generator was trained at: ``configs/generators/``)."""
    if files:
        from deeprestore.evaluation.inversion_study import load_image_files

        return load_image_files(list(files), size, skips)
    from datamodules import SamplePhotos

    data = SamplePhotos(crop_size=size, resize=2 * size, eval_crops="five", batch_size=64)
    data.setup("test")
    images = torch.cat(list(data.test_dataloader()))
    crops = ("top_left", "top_right", "bottom_left", "bottom_right", "center")
    names = [f"{photo}_{crop}" for photo in SamplePhotos.split_names("test") for crop in crops]
    if data.skip_count or len(names) != len(images):
        raise ValueError(f"the generator's {size}² images need the sample photos at {2 * size} pixels ({data.skip_report()}); "
                         "images are never enlarged: pass --images")
    return images, names


def _write_config(out: Path, config: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "config.yaml", lambda f: f.write(yaml.safe_dump(config, sort_keys=False).encode()))


def _finish(out: Path, title: str, command: str | None, intro: str, table: str, figures: Sequence[Path], key: str,
            rows: Sequence[dict], config: dict[str, Any], wandb: str, run: str | None) -> Path:
    """``report.md`` (command, intro, table, figures), the rows and figures to W&B, a summary on stdout."""
    figures_md = "\n".join(f"![{p.stem}](plots/{p.name})" for p in figures)
    text = f"# {title}\n\nCommand:\n\n```\n{command}\n```\n\n{intro}\n\n{table}\n\n{figures_md}\n"
    report = atomic_write(out / "report.md", lambda f: f.write(text.encode()))
    problem = log_wandb_tables(out, {key: rows}, figures, mode=wandb, config=config, name=run or out.name)
    if problem:
        print(f"warning: {problem}", file=sys.stderr)
    print(f"\nreport: {report}\n\n{table}")
    return report


def run_inverse_problems(generator_path: str, operators: Sequence[str], out: Path, *, images: Sequence[str] | None = None,
                         skips: SkipTracker | None = None,
                         noise_std: float = 0.0, ilo_layers: Sequence[int] = (0, 1, 2, 3), ilo_steps: Sequence[int] = (50, 50, 25, 25),
                         ilo_radii: Sequence[float] = (0.1, 0.2, 0.3), lr: float = 0.1, restarts: int = 1, latent_weight: float = 0.0,
                         seed: int = 0, device: torch.device = torch.device("cpu"), wandb: str = "offline", run: str | None = None,
                         progress: bool = True, command: str | None = None) -> list[dict]:
    """CSGM (``sum(ilo_steps)`` steps: the same budget) and ILO on every operator; see
    :func:`~deeprestore.evaluation.inverse_problems_study.run_inverse_problems_study`."""
    if not Path(generator_path).is_file():
        raise FileNotFoundError(f"no generator checkpoint at {generator_path}; train one with "
                                "`python train.py --config configs/generators/vae_conv_photos.yaml`")
    generator = load_generator(generator_path).to(device)
    shape = generator.layer_shapes()[-1]
    if len(shape) != 3:
        raise ValueError(f"{generator_path}: the generator makes {shape}, not images")
    x, names = generator_test_images(images, shape[-1], skips)
    x = x.to(device)
    ops = {name: make_operator(name, shape, seed=seed, noise_std=noise_std).to(device) for name in operators}
    budget = sum(ilo_steps)
    methods = {
        "csgm": lambda g, op, y, s: csgm(g, op, y, steps=budget, lr=lr, restarts=restarts, latent_weight=latent_weight, seed=s),
        "ilo": lambda g, op, y, s: ilo(g, op, y, layers=ilo_layers, steps=ilo_steps, radii=ilo_radii, lr=lr, restarts=restarts,
                                       latent_weight=latent_weight, seed=s),
    }
    config = {"study": "inverse_problems", "generator": generator_path, "operators": list(operators), "images": list(images or []) or None,
              "noise_std": noise_std, "ilo_layers": list(ilo_layers), "ilo_steps": list(ilo_steps), "ilo_radii": list(ilo_radii),
              "csgm_steps": budget, "lr": lr, "restarts": restarts, "latent_weight": latent_weight, "seed": seed,
              "device": str(device), "out": str(out), "command": command}
    _write_config(out, config)
    rows = run_inverse_problems_study(generator, x, names, ops, methods, out, seed=seed, progress=progress)
    table = inverse_problems_table(rows)
    figures = sorted((out / "plots").glob("*.png"))
    intro = (f"Generator: `{generator_path}` (layers {generator.layer_shapes()}). Images: {len(names)} held-out "
             f"{shape[-1]}×{shape[-1]} crops. CSGM: Adam on the latent for {budget} steps; ILO: layers {list(ilo_layers)}, "
             f"steps {list(ilo_steps)}, relative l1 radii {list(ilo_radii)}; learning rate {lr} (ramped), {restarts} start(s). "
             "Means over the images. Data: [inverse_problems.csv](inverse_problems.csv), config: [config.yaml](config.yaml).")
    _finish(out, "Inverse problems with a generator: CSGM and ILO", command, intro, table, figures, "inverse_problems", rows,
            config, wandb, run)
    return rows


def run_lp(out: Path, *, widths: Sequence[int] = (20, 100, 500), noise_levels: Sequence[float] = (0.0, 1e-3, 1e-2, 1e-1),
           trials: int = 200, methods: Sequence[str] = ("lp", "lp-linf", "lp-l1", "gd"), latent_dims: Sequence[int] = (5, 10, 20, 40),
           expansions: Sequence[int] = (2, 3, 5), dimension_trials: int = 50, generator_path: str | None = None, generator_trials: int = 20,
           seed: int = 0, wandb: str = "offline", run: str | None = None, progress: bool = True, command: str | None = None) -> list[dict]:
    """Lei et al.'s studies (:mod:`deeprestore.generative.lp_study`): error against noise on random
    ``widths`` networks, success and time against latent dimension and expansion (``lp`` and
    ``gd``), and, given ``generator_path``, the trained generator; ``lp_inversion.csv`` is
    rewritten after each study."""
    from deeprestore.generative.lp_study import dimension_study, lp_figures, lp_report, noise_study, trained_generator_study, write_lp_csv

    if trials < 1 or dimension_trials < 0 or generator_trials < 0:
        raise ValueError(f"trials must be positive and the other trial counts non-negative, got {trials}, {dimension_trials}, {generator_trials}")
    if generator_path and not Path(generator_path).is_file():
        raise FileNotFoundError(f"no generator checkpoint at {generator_path}")
    config = {"study": "lp", "widths": list(widths), "noise_levels": list(noise_levels), "trials": trials, "methods": list(methods),
              "latent_dims": list(latent_dims), "expansions": list(expansions), "dimension_trials": dimension_trials,
              "generator": generator_path, "generator_trials": generator_trials, "seed": seed, "out": str(out), "command": command}
    _write_config(out, config)
    rows: list[dict] = []
    rows += noise_study(tuple(widths), tuple(noise_levels), trials, tuple(methods), seed=seed, progress=progress)
    write_lp_csv(out / "lp_inversion.csv", rows)
    if dimension_trials and latent_dims and expansions:
        dim_methods = tuple(m for m in ("lp", "gd") if m in methods) or ("lp",)
        rows += dimension_study(tuple(latent_dims), tuple(expansions), trials=dimension_trials, methods=dim_methods, seed=seed, progress=progress)
        write_lp_csv(out / "lp_inversion.csv", rows)
    if generator_path and generator_trials:
        generator = load_generator(generator_path, "--lp_generator").double()
        rows += trained_generator_study(generator, trials=generator_trials, methods=tuple(m for m in ("lp", "gd") if m in methods) or ("lp",),
                                        seed=seed, progress=progress)
        write_lp_csv(out / "lp_inversion.csv", rows)
    figures = lp_figures(rows, out / "plots")
    table = lp_report(rows)
    intro = ("Lei, Jalal, Dhillon & Dimakis (2019): layer-wise linear programs (scipy HiGHS) against gradient descent (Adam with restarts). "
             "Relative latent error ‖ẑ − z‖/‖z‖; success: < 1e-6 without noise, < 10 × the noise level with it. "
             "Data: [lp_inversion.csv](lp_inversion.csv), config: [config.yaml](config.yaml).")
    _finish(out, "Inverting ReLU generators one layer at a time", command, intro, table, figures, "lp_inversion", rows,
            config, wandb, run)
    return rows
