"""Evaluate inversion methods layer by layer: ``python evaluate.py`` runs the embedded default.

For each target layer of a network and each method — the optimisation presets (M&V 2016,
M&V 2015, seed 000's plain gradient descent), ``mv2016`` plus each learned prior given with
``--learned_priors``, and every trained inverting network found under ``--checkpoints`` —
reconstruct the images from their features and score the reconstructions (MSE, PSNR, SSIM,
feature error, top-1 class kept). Writes a study folder (``--out``)::

    metrics.csv  metrics.json  report.md  config.yaml
    plots/<metric>.png  plots/layers_<image>.png  grids/<method>_<layer>.png
    reconstructions/<method>_<layer>.pt  wandb/

``--study denoise`` runs the denoising study instead (MAP denoising of grey images with Roth's
FoE and trained priors against scikit-image's TV and non-local means; ``denoise.csv``,
``report.md``). ``--study inverse_problems`` reconstructs held-out crops from measurements
(inpainting, denoising, super-resolution, compressed sensing) with a trained generator by CSGM and
ILO (``inverse_problems.csv``); ``--study lp`` runs Lei et al.'s layer-wise linear-program
inversion studies (``lp_inversion.csv``).

Rerunning with the same ``--out`` (or ``--run``) skips the finished (method, layer) jobs.

Examples::

    python evaluate.py                                          # configs/evaluate/default.yaml
    python evaluate.py --config configs/evaluate/quick.yaml     # smoke run, a few minutes on a CPU
    python evaluate.py --layers block1 block4 --presets mv2016 --images photos/ --run mine
    python evaluate.py --checkpoints "" --iterations_scale 0.2 --wandb disabled
    python evaluate.py --config configs/evaluate/learned_priors.yaml   # mv2016 ± learned priors
    python evaluate.py --config configs/evaluate/denoise.yaml          # the denoising study
    python evaluate.py --config configs/evaluate/inverse_problems.yaml # CSGM vs ILO
    python evaluate.py --config configs/evaluate/lp_inversion.yaml     # Lei et al.'s LP inversion
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import yaml
from jsonargparse import ActionConfigFile, ArgumentParser, Namespace

from datamodules.skips import SkipTracker
from deeprestore.evaluation.inversion_study import (
    LearnedPriorMethod,
    PresetMethod,
    StudyResult,
    find_inverter_checkpoints,
    load_image_files,
    run_study,
    sample_test_photos,
)
from deeprestore.atomic_io import atomic_write
from deeprestore.cli_errors import run_command
from deeprestore.cli_options import as_list, as_paths, resolve_device, writable_folder
from deeprestore.evaluation.denoising_study import default_denoisers, denoise_table, run_denoising_study
from deeprestore.evaluation.generative_studies import run_inverse_problems, run_lp
from deeprestore.generative.operators import OPERATOR_NAMES
from deeprestore.evaluation.report import log_wandb, ssim_summary_table, write_report
from deeprestore.inversion import get_preset
from deeprestore.nets import LayeredNetwork, load_network
from deeprestore.priors import load_patch_prior
from deeprestore.priors.patches import to_grey

ROOT = Path(__file__).resolve().parent
DEFAULT_CONFIG = ROOT / "configs" / "evaluate" / "default.yaml"

#: ``--layers`` when none are given, per network.
DEFAULT_LAYERS: dict[str, list[str]] = {
    "efficientnet_lite0": ["stem", "block1", "block2", "block4", "block6", "block8", "block12", "block16"],
    "alexnet": ["relu1", "pool1", "relu2", "relu3", "relu4", "relu5", "relu6", "relu7", "fc8"],
    "vgg16": ["relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3", "relu6", "relu7", "fc8"],
}

def build_parser(embedded_default: bool = True) -> ArgumentParser:
    """The command line; every option can also be set in a YAML file given to ``--config``.

    Args:
        embedded_default: read ``configs/evaluate/default.yaml`` first (it holds the same values
            as the code's defaults), as ``python train.py`` reads ``configs/default.yaml``.
    """
    p = ArgumentParser(prog="evaluate.py", description=__doc__.split("\n\n")[0], default_env=False, exit_on_error=False,
                       default_config_files=[str(DEFAULT_CONFIG)] if embedded_default else None)
    p.add_argument("--config", action=ActionConfigFile, help="a YAML file of these options (e.g. configs/evaluate/quick.yaml)")
    p.add_argument("--net", type=str, default="efficientnet_lite0", help="zoo network: efficientnet_lite0, alexnet, vgg16")
    p.add_argument("--weights", type=str, default="pretrained", help="pretrained, a state-dict path, or random (plumbing only)")
    p.add_argument("--layers", type=str, nargs="*", default=None,
                   help="target layers (default: the network's, for efficientnet_lite0 " + " ".join(DEFAULT_LAYERS["efficientnet_lite0"]) + ")")
    p.add_argument("--presets", type=str, nargs="*", default=["mv2016", "gd-plain"], help="optimisation presets: mv2016, mv2015, gd-plain (none: inverters only)")
    p.add_argument("--checkpoints", type=str | None, default="checkpoints",
                   help='folder of train.py experiments whose inverting networks are evaluated too ("" disables)')
    p.add_argument("--images", type=str, nargs="*", default=None, help="image files or folders (default: the held-out sample photos chelsea, coffee)")
    p.add_argument("--crop_size", type=int, default=128, help="images are shrunk (shorter side; never enlarged: smaller files are skipped) and centre-cropped to this")
    p.add_argument("--iterations_scale", type=float, default=4.0,
                   help="multiplies the presets' iterations (default 4: 1400 for mv2016, see docs/optimisation_inversion.md; 0.2 for a quick look)")
    p.add_argument("--batch_size", type=int, default=8, help="images per batch (a resume key: kernels may round differently at another batch size)")
    p.add_argument("--device", type=str, default="auto", help="auto (cuda if available), cpu, cuda, cuda:1 …")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial noise and the jitter")
    p.add_argument("--out", type=str | None, default=None, help="study folder (default: reports/<run>, or reports/evaluate-<timestamp>)")
    p.add_argument("--run", type=str | None, default=None, help="run name: the default --out and the W&B run name")
    p.add_argument("--grid_images", type=int, default=8, help="images per comparison grid (0: none)")
    p.add_argument("--wandb", type=Literal["offline", "online", "disabled"], default="offline", help="W&B logging into <out>/wandb")
    p.add_argument("--progress", type=bool, default=True, help="show progress bars")
    p.add_argument("--learned_priors", type=str, nargs="*", default=[],
                   help="PatchPriorModule checkpoints (image or feature-map priors) added to mv2016 as extra methods, named mv2016+<run folder>")
    p.add_argument("--learned_prior_weights", type=float, nargs="*", default=[],
                   help="λ of each learned prior, in order (its energy is per patch position; default 0.1 each; see docs/learned_priors.md)")
    p.add_argument("--study", type=Literal["inversion", "denoise", "inverse_problems", "lp"], default="inversion",
                   help="inversion (the layer sweep), denoise (MAP denoising of grey images with priors; configs/evaluate/denoise.yaml), "
                        "inverse_problems (CSGM vs ILO with a trained generator; configs/evaluate/inverse_problems.yaml) or "
                        "lp (Lei et al.'s layer-wise linear programs; configs/evaluate/lp_inversion.yaml)")
    p.add_argument("--sigmas", type=float, nargs="*", default=[15.0, 25.0, 50.0], help="denoise study: noise levels on the 0–255 scale")
    p.add_argument("--denoise_priors", type=str, nargs="*", default=[],
                   help="denoise study: grey PatchPriorModule checkpoints (train.py --config configs/priors/foe_grey.yaml …), named by their run folder")
    p.add_argument("--generator", type=str, default="checkpoints/generator_vae_conv/last.ckpt",
                   help="inverse_problems study: a VAEGeneratorModule checkpoint (train.py --config configs/generators/vae_conv_photos.yaml)")
    p.add_argument("--operators", type=str, nargs="*", default=list(OPERATOR_NAMES),
                   help="inverse_problems study: forward operators, from " + ", ".join(OPERATOR_NAMES))
    p.add_argument("--noise_std", type=float, default=0.0,
                   help="inverse_problems study: measurement noise std ([0, 1] units) of every operator (0: none, and 0.1 for denoise)")
    p.add_argument("--ilo_layers", type=int, nargs="*", default=[0, 1, 2, 3], help="inverse_problems study: layers ILO optimises in turn (0 = latent)")
    p.add_argument("--ilo_steps", type=int, nargs="*", default=[50, 50, 25, 25], help="inverse_problems study: Adam steps per ILO layer; CSGM gets their sum")
    p.add_argument("--ilo_radii", type=float, nargs="*", default=[0.1, 0.2, 0.3],
                   help="inverse_problems study: l1 radius of each layer after the latent, relative to the layer's l1 norm")
    p.add_argument("--ilo_lr", type=float, default=0.1, help="inverse_problems study: peak Adam learning rate (ramped) of ILO and CSGM")
    p.add_argument("--restarts", type=int, default=1, help="inverse_problems study: random latent starts per image (best kept)")
    p.add_argument("--latent_weight", type=float, default=0.0, help="inverse_problems study: λ of Bora et al.'s λ‖z‖² on the latent")
    p.add_argument("--lp_widths", type=int, nargs="*", default=[20, 100, 500], help="lp study: widths of the random ReLU networks, latent first")
    p.add_argument("--noise_levels", type=float, nargs="*", default=[0.0, 1e-3, 1e-2, 1e-1],
                   help="lp study: relative noise levels (noise std = level × ‖G(z)‖/√n)")
    p.add_argument("--trials", type=int, default=200, help="lp study: random networks per noise level")
    p.add_argument("--lp_methods", type=str, nargs="*", default=["lp", "lp-linf", "lp-l1", "gd"], help="lp study: lp, lp-linf, lp-l1, gd")
    p.add_argument("--latent_dims", type=int, nargs="*", default=[5, 10, 20, 40], help="lp study: latent dimensions of the expansion study")
    p.add_argument("--expansions", type=int, nargs="*", default=[2, 3, 5], help="lp study: width ratio of consecutive layers (two layers)")
    p.add_argument("--dimension_trials", type=int, default=50, help="lp study: networks per (latent dimension, expansion); 0 skips it")
    p.add_argument("--lp_generator", type=str | None, default=None, help="lp study: also invert this trained generator (VAEGeneratorModule checkpoint)")
    p.add_argument("--generator_trials", type=int, default=20, help="lp study: random latents for the trained generator")
    return p


def resolve_layers(net: LayeredNetwork, layers: list[str] | None) -> list[str]:
    """The layers asked for (or the network's defaults), checked, in network order, no repeats."""
    chosen = layers if layers else DEFAULT_LAYERS.get(net.name, net.layer_names)
    return sorted(dict.fromkeys(net.check_layer(layer) for layer in chosen), key=net.index)


def resolve_presets(presets: list[str]) -> list[str]:
    """The presets, checked (``ValueError`` names the valid ones), no repeats."""
    for preset in presets:
        get_preset(preset)
    return list(dict.fromkeys(presets))


def resolve_out(out: str | None, run: str | None, stamp: str) -> Path:
    """``--out``, else ``reports/<run>``, else ``reports/evaluate-<stamp>``."""
    if out:
        return Path(out)
    return Path("reports") / (run or f"evaluate-{stamp}")


def load_study_images(images: list[str] | None, crop_size: int, skips: SkipTracker) -> tuple[torch.Tensor, list[str]]:
    """``N×3×crop×crop`` images in [0, 1] and their names: the given files/folders (skips counted
    in ``skips``) or the sample photos."""
    if images:
        return load_image_files(images, crop_size, skips)
    return sample_test_photos(crop_size)


def resolved_config(cfg: Namespace, layers: list[str], presets: list[str], device: torch.device, out: Path) -> dict[str, Any]:
    """The settings as run (defaults filled in), for ``config.yaml`` and the report."""
    return {
        "net": cfg.net, "weights": cfg.weights, "layers": layers, "presets": presets,
        "checkpoints": cfg.checkpoints or None, "images": as_paths(cfg.images) or None, "crop_size": cfg.crop_size,
        "iterations_scale": cfg.iterations_scale, "batch_size": cfg.batch_size, "device": str(device),
        "seed": cfg.seed, "out": str(out), "run": cfg.run, "grid_images": cfg.grid_images, "wandb": cfg.wandb,
        "learned_priors": cfg.learned_priors or [], "learned_prior_weights": cfg.learned_prior_weights or [],
    }


def evaluate(cfg: Namespace, command: str | None = None) -> StudyResult:
    """Run the study described by ``cfg`` (a parsed namespace), write the report, log to W&B.

    Raises:
        ValueError / FileNotFoundError: a bad option, image path or checkpoint (checked before
            anything is written).
    """
    out = writable_folder(resolve_out(cfg.out, cfg.run, time.strftime("%Y%m%d-%H%M%S")), "--out", create=False)
    skips = SkipTracker()
    if cfg.study == "denoise":
        return evaluate_denoising(cfg, out, skips, command)
    if cfg.study == "lp":
        return run_lp(out, widths=cfg.lp_widths, noise_levels=cfg.noise_levels, trials=cfg.trials, methods=as_list(cfg.lp_methods) or [],
                      latent_dims=cfg.latent_dims, expansions=cfg.expansions, dimension_trials=cfg.dimension_trials,
                      generator_path=cfg.lp_generator, generator_trials=cfg.generator_trials, seed=cfg.seed, wandb=cfg.wandb,
                      run=cfg.run, progress=cfg.progress, command=command)
    if cfg.study == "inverse_problems":
        rows = run_inverse_problems(cfg.generator, as_list(cfg.operators) or [], out, images=as_paths(cfg.images), skips=skips, noise_std=cfg.noise_std,
                                    ilo_layers=cfg.ilo_layers, ilo_steps=cfg.ilo_steps, ilo_radii=cfg.ilo_radii, lr=cfg.ilo_lr,
                                    restarts=cfg.restarts, latent_weight=cfg.latent_weight, seed=cfg.seed,
                                    device=resolve_device(cfg.device), wandb=cfg.wandb, run=cfg.run, progress=cfg.progress, command=command)
        if cfg.images:
            print(skips.report())
        return rows
    if cfg.batch_size < 1:
        raise ValueError(f"--batch_size must be positive, got {cfg.batch_size}")
    if cfg.iterations_scale <= 0:
        raise ValueError(f"--iterations_scale must be positive, got {cfg.iterations_scale}")
    device = resolve_device(cfg.device)
    net = load_network(cfg.net, weights=cfg.weights).to(device)
    layers = resolve_layers(net, as_list(cfg.layers))
    presets = resolve_presets(as_list(cfg.presets) or [])
    images, names = load_study_images(as_paths(cfg.images), cfg.crop_size, skips)
    inverters, notes = find_inverter_checkpoints(cfg.checkpoints, net.name, cfg.weights) if cfg.checkpoints else ([], [])
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    config = resolved_config(cfg, layers, presets, device, out)
    config["command"] = command
    learned_paths, learned_weights = cfg.learned_priors or [], cfg.learned_prior_weights or []
    if learned_weights and len(learned_weights) != len(learned_paths):
        raise ValueError(f"--learned_prior_weights needs one weight per learned prior ({len(learned_paths)}), got {len(learned_weights)}")
    learned = [LearnedPriorMethod.from_checkpoint(path, w) for path, w in zip(learned_paths, learned_weights or [0.1] * len(learned_paths))]
    methods = [PresetMethod(p) for p in presets] + learned + inverters
    result = run_study(net, images, names, layers, methods, out, iterations_scale=cfg.iterations_scale,
                       batch_size=cfg.batch_size, seed=cfg.seed, grid_images=cfg.grid_images,
                       progress=cfg.progress, config=config)
    saved = yaml.safe_load((out / "config.yaml").read_text())
    report = write_report(out, result.rows, net.layer_names, config=saved, command=command,
                          sweep_images=min(2, cfg.grid_images))
    problem = log_wandb(out, result.rows, net.layer_names, mode=cfg.wandb, config=saved, name=cfg.run or out.name)
    if problem:
        print(f"warning: {problem}", file=sys.stderr)
    print_summary(result, report, net.layer_names)
    if cfg.images:
        print(skips.report())
    return result


def denoise_images(files: list[str] | None, crop_size: int, skips: SkipTracker) -> tuple[list[np.ndarray], list[str]]:
    """Grey H×W images in 0–255: the given files/folders (centre crops), or scikit-image's
    ``camera`` and the held-out sample photos chelsea and coffee (centre ``crop_size`` crops at
    full resolution; none of them is in the priors' training split)."""
    if files:
        images, names = load_image_files(files, crop_size, skips)
        return [(255 * to_grey(images)[i, 0]).double().numpy() for i in range(len(images))], names
    import skimage.data
    from skimage.color import rgb2gray

    photos = {"camera": skimage.data.camera() / 255.0, "chelsea": rgb2gray(skimage.data.chelsea()), "coffee": rgb2gray(skimage.data.coffee())}
    out = []
    for image in photos.values():
        h, w = image.shape
        top, left = (h - crop_size) // 2, (w - crop_size) // 2
        out.append(255.0 * image[top : top + crop_size, left : left + crop_size])
    return out, list(photos)


def evaluate_denoising(cfg: Namespace, out: Path, skips: SkipTracker, command: str | None = None) -> list[dict]:
    """The denoising study (``--study denoise``): ``denoise.csv``, ``report.md``, ``config.yaml``."""
    priors = {}
    for path in cfg.denoise_priors or []:
        module = load_patch_prior(path, "--denoise_priors")
        if module.energy.channels != 1:
            raise ValueError(f"{path}: the denoising study needs a grey image prior, this one models {module.energy.channels}-channel patches")
        priors[Path(path).parent.name] = module.energy
    images, names = denoise_images(as_paths(cfg.images), cfg.crop_size, skips)
    config = {"study": "denoise", "images": as_paths(cfg.images), "crop_size": cfg.crop_size, "sigmas": cfg.sigmas,
              "denoise_priors": cfg.denoise_priors, "seed": cfg.seed, "out": str(out), "command": command}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "config.yaml", lambda f: f.write(yaml.safe_dump(config, sort_keys=False).encode()))
    rows = run_denoising_study(images, names, cfg.sigmas, default_denoisers(priors), out, seed=cfg.seed, progress=cfg.progress)
    table = denoise_table(rows)
    text = (f"# Denoising study\n\nCommand:\n\n```\n{command}\n```\n\nImages: {', '.join(names)} (grey, {cfg.crop_size}×{cfg.crop_size}). "
            "Mean over the images; each method's parameter picked from its grid per σ by mean PSNR. "
            "Data: [denoise.csv](denoise.csv), config: [config.yaml](config.yaml).\n\n" + table + "\n")
    atomic_write(out / "report.md", lambda f: f.write(text.encode()))
    print(f"\nreport: {out / 'report.md'}\n\n{table}")
    if cfg.images:
        print(skips.report())
    return rows


def print_summary(result: StudyResult, report: Path, layer_order: Sequence[str]) -> None:
    """Where the report is, what ran, and the per-layer SSIM table."""
    print(f"\nran {len(result.ran)} job(s), skipped {len(result.skipped)} finished job(s) found in {result.out / 'metrics.csv'}")
    if result.diverged:
        print(f"diverged: {', '.join('/'.join(d) for d in result.diverged)}")
    print(f"report: {report}")
    print("\nmean SSIM by layer:\n" + ssim_summary_table(result.rows, layer_order))


def main(args: Sequence[str] | None = None) -> StudyResult:
    """Parse ``args`` (default: ``sys.argv[1:]``) and run :func:`evaluate`.

    Errors in the options or image paths raise (``ValueError`` …); see :func:`cli` for the
    command line's one-line messages.
    """
    argv = list(sys.argv[1:] if args is None else args)
    cfg = build_parser().parse_args(argv)
    command = shlex.join(["python", "evaluate.py", *argv])
    return evaluate(cfg, command)


def cli() -> int:
    """``python evaluate.py``: a user error is one line on stderr and exit status 2."""
    return run_command(main, "evaluate.py")


if __name__ == "__main__":
    sys.exit(cli())
