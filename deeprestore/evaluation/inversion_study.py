"""The inversion study: reconstruct images from each target layer with each method and score them.

A *method* is either an optimisation preset of :mod:`deeprestore.inversion` (``mv2016``,
``mv2015``, ``gd-plain``; named by the preset) or a trained inverting network found under a
checkpoints root (named ``inverter-<mode>``, evaluated at its own layer only). A *job* is one
``(method, layer)`` pair; every job reconstructs all images (in batches) and yields one row per
image:

=================  ===================================================================
column             meaning
=================  ===================================================================
``method``         preset name or ``inverter-<mode>[-<experiment>]``
``net``            network name
``layer``          target layer
``image``          image name (file stem, or the sample photo's name)
``mse``            mean squared error of ``clamp(x̂, 0, 1)`` against ``x``
``psnr``           PSNR in dB (same pair)
``ssim``           SSIM (same pair; Gaussian 11×11 window, as scikit-image)
``feature_error``  ``‖Φ_layer(x̂) − Φ_layer(x)‖ / ‖Φ_layer(x)‖`` with the clamped ``x̂``
``top1_kept``      ``argmax net(x̂) == argmax net(x)``
``diverged``       the optimisation of this image stopped on NaN/inf (its last good
                   iterate is scored; see :class:`~deeprestore.inversion.InversionResult`)
=================  ===================================================================

Outputs in the study folder (every file written atomically):

* ``metrics.csv``: all rows, rewritten after each finished job (temporary file +
  :func:`os.replace`); on a rerun with the same folder, jobs whose rows are all present are
  skipped, so an interrupted study resumes;
* ``config.yaml``: the study's resolved configuration (and the methods with their checkpoints);
  a rerun whose settings would change the numbers (net, weights, images, crop size, iterations,
  seed) is refused rather than mixed into the same CSV;
* ``grids/<method>_<layer>.png``: original | reconstruction | difference | |difference| for the
  first ``grid_images`` images;
* ``reconstructions/<method>_<layer>.pt``: ``{"images": names, "reconstructions": N×3×H×W}``,
  the raw (unclamped) reconstructions, so every number can be recomputed, and
  ``reconstructions/originals.pt`` (``{"images": names, "originals": N×3×H×W}``).

Initial noise: each image's own stream, keyed on its pixels and the study's seed
(:mod:`deeprestore.inversion.seeds`), and one jitter stream from the seed: an image's row does not
depend on its batch or the other images of the study (tested: batch 1 and 8 give the same rows at
128² on the CPU). Convolution kernels may still round differently at another batch size (on the
CPU at some shapes; on CUDA by algorithm choice), so the batch size is a resume key.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import Tensor
from tqdm.auto import tqdm

from datamodules.image_files import BadImageError, load_rgb
from datamodules.image_paths import expand_image_paths
from datamodules.skips import SkipReason, SkipTracker
from datamodules.transforms import EvalTransform, ImageTooSmallError
from deeprestore.atomic_io import atomic_write
from deeprestore.checkpoint_files import load_module_checkpoint, read_checkpoint
from deeprestore.evaluation.grids import comparison_grid, save_png
from deeprestore.evaluation.metrics import SSIM_WINDOW, feature_error, image_metrics
from deeprestore.inversion import get_preset, invert
from deeprestore.nets.layered_network import LayeredNetwork

__all__ = [
    "ALL_COLUMNS",
    "COLUMNS",
    "ORIGINALS_FILE",
    "RESUME_KEYS",
    "InverterMethod",
    "LearnedPriorMethod",
    "Method",
    "PresetMethod",
    "StudyResult",
    "check_crop_size",
    "file_stem",
    "find_inverter_checkpoints",
    "load_image_files",
    "plan_jobs",
    "read_rows",
    "run_job",
    "run_study",
    "sample_test_photos",
    "score",
    "write_rows",
]

logger = logging.getLogger(__name__)

#: The required columns of ``metrics.csv``, in order.
COLUMNS: tuple[str, ...] = ("method", "net", "layer", "image", "mse", "psnr", "ssim", "feature_error", "top1_kept")
#: All columns written: the required ones, then the extras.
ALL_COLUMNS: tuple[str, ...] = COLUMNS + ("diverged",)
FLOAT_COLUMNS = ("mse", "psnr", "ssim", "feature_error")
BOOL_COLUMNS = ("top1_kept", "diverged")
#: Settings that change the numbers: a study folder refuses a rerun where they differ (or where an
#: older folder lacks one, e.g. ``random_streams`` from before the per-image streams). The batch
#: size is one: convolution kernels may round differently at another batch size, and the
#: optimisation amplifies rounding.
RESUME_KEYS: tuple[str, ...] = ("net", "weights", "images", "crop_size", "iterations_scale", "seed", "batch_size", "random_streams")
#: How the initial noise is seeded; part of the config, so a folder made another way is refused.
RANDOM_STREAMS = "per-image (pixels + seed)"

Row = dict[str, Any]
#: ``images N×3×H×W in [0, 1] → (reconstructions N×3×H×W, diverged_at per image)``.
Reconstructor = Callable[[Tensor], tuple[Tensor, list[int | None]]]


# -- images -------------------------------------------------------------------------------------
def load_image_files(paths: Sequence[str | Path], crop_size: int, skips: SkipTracker | None = None) -> tuple[Tensor, list[str]]:
    """Load image files and folders (recursively), shrunk (shorter side) and centre-cropped.

    The data modules' rule: the shorter side is reduced to ``crop_size`` (never enlarged), then
    the centre ``crop_size`` square is cut. Files found in a folder that cannot be read or are
    smaller than the crop are skipped, logged and counted in ``skips``; a file given by name that
    cannot be used is an error.

    Args:
        paths: image files and/or folders of images (each path taken whole: commas are allowed).
        crop_size: side of the square crops.
        skips: tracker of the skips (print ``skips.report()`` at the end of the run).

    Returns:
        ``(images N×3×crop_size×crop_size in [0, 1], names)``; names are file stems, or the
        paths as given where two stems would clash.

    Raises:
        FileNotFoundError: a path that does not exist.
        ValueError: a folder without image files, no usable image at all, or a named file that
            is unreadable (``BadImageError``) or smaller than the crop.
    """
    check_crop_size(crop_size)
    skips = SkipTracker() if skips is None else skips
    transform = EvalTransform(crop_size, crop_size, "center")
    files = expand_image_paths(paths, skips)
    ids = skips.register([str(f.path) for f in files])
    images, kept = [], []
    for image_id, file in zip(ids, files):
        try:
            images.append(transform(load_rgb(file.path)))
        except BadImageError as error:
            if file.named:
                raise
            skips.record(image_id, SkipReason.UNREADABLE, error.reason)
            continue
        except ImageTooSmallError as error:
            if file.named:
                raise ValueError(f"{file.path}: {error} (images are never enlarged; use a smaller --crop_size)") from error
            skips.record(image_id, SkipReason.TOO_SMALL, str(error))
            continue
        kept.append(file.path)
    if not images:
        raise ValueError(f"none of the image files under {', '.join(map(str, paths))} can be used ({skips.report()})")
    return torch.stack(images), _unique_names(kept)


def _unique_names(paths: Sequence[Path]) -> list[str]:
    """File stems, or the full paths where stems clash."""
    stems = [p.stem for p in paths]
    return [s if stems.count(s) == 1 else str(p) for s, p in zip(stems, paths)]


def sample_test_photos(crop_size: int) -> tuple[Tensor, list[str]]:
    """The held-out sample photos (chelsea, coffee), centre crops.

    Resized to ``2 × crop_size`` on the shorter side first: the scale of the training crops
    (``SamplePhotos``: resize 256 for 128 crops).

    Returns:
        ``(images N×3×crop_size×crop_size in [0, 1], names)``.
    """
    from datamodules import SamplePhotos

    check_crop_size(crop_size)
    data = SamplePhotos(crop_size=crop_size, resize=2 * crop_size, eval_crops="center", batch_size=64)
    data.setup("test")
    images = torch.cat(list(data.test_dataloader()))
    names = SamplePhotos.split_names("test")
    if data.skip_count or len(names) != len(images):
        raise ValueError(f"--crop_size {crop_size} is too large for the held-out sample photos ({data.skip_report()}); "
                         "images are never enlarged: use a smaller crop or --images")
    return images, names


def check_crop_size(crop_size: int) -> int:
    """``crop_size`` if SSIM can be computed at that size (≥ 11 pixels), else ``ValueError``."""
    if crop_size < SSIM_WINDOW:
        raise ValueError(f"crop_size must be at least {SSIM_WINDOW} pixels (the SSIM window), got {crop_size}")
    return crop_size


# -- methods ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PresetMethod:
    """An optimisation preset, run at every study layer.

    Attributes:
        preset: a preset name of :data:`deeprestore.inversion.PRESETS`.
    """

    preset: str

    @property
    def name(self) -> str:
        return self.preset

    def layers(self, study_layers: Sequence[str]) -> list[str]:
        """The layers this method is evaluated at: all of the study's."""
        return list(study_layers)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "preset", "preset": self.preset}

    def reconstructor(self, net: LayeredNetwork, layer: str, *, iterations_scale: float, seed: int, progress: bool) -> Reconstructor:
        """``images → (reconstructions, diverged_at)`` by :func:`~deeprestore.inversion.invert`."""
        preset = get_preset(self.preset)

        def run(images: Tensor) -> tuple[Tensor, list[int | None]]:
            result = invert(net, images, [layer], preset, iterations_scale=iterations_scale, seed=seed, progress=progress)
            return result.images.detach(), list(result.diverged_at)

        return run


@dataclass(frozen=True)
class InverterMethod:
    """A trained inverting network (:class:`~deeprestore.inverters.InvertingNetwork`).

    Attributes:
        name: ``inverter-<mode>`` (``-<experiment>`` added where two share mode and layer).
        checkpoint: the checkpoint file.
        experiment: its experiment folder name.
        mode: the training mode (``joint`` …).
        layer: the layer it inverts; the only layer it is evaluated at.
        weights: the network weights it was trained with.
    """

    name: str
    checkpoint: Path
    experiment: str
    mode: str
    layer: str
    weights: str

    def layers(self, study_layers: Sequence[str]) -> list[str]:
        """The layers this method is evaluated at: its own."""
        return [self.layer]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "inverter", "checkpoint": str(self.checkpoint), "experiment": self.experiment,
                "mode": self.mode, "layer": self.layer}

    def reconstructor(self, net: LayeredNetwork, layer: str, *, iterations_scale: float, seed: int, progress: bool) -> Reconstructor:
        """``images → (reconstructions, no divergence)``; loads the checkpoint once."""
        from deeprestore.inverters import InvertingNetwork

        if layer != self.layer:
            raise ValueError(f"{self.name} inverts {self.layer}, not {layer}")
        device = net.mean.device
        overrides: dict[str, Any] = {}
        if self.mode == "stacked":  # the chain is in the state dict: do not re-assemble from the parallel files
            overrides = {"mode": "parallel", "parallel_checkpoints": None}
        model = load_module_checkpoint(InvertingNetwork, self.checkpoint, "inverter checkpoint", **overrides).to(device).eval()

        @torch.no_grad()
        def run(images: Tensor) -> tuple[Tensor, list[int | None]]:
            feats = model.net.features(images, layer)[layer]
            return model(feats, tuple(images.shape[-2:])), [None] * len(images)

        return run


@dataclass(frozen=True)
class LearnedPriorMethod:
    """A preset with a trained prior added to its priors (MSc thesis §3.3, figures 2–3): a patch
    prior (:class:`~deeprestore.priors.PatchPriorModule`) or a denoising autoencoder
    (:class:`~deeprestore.priors.DAEPriorModule`).

    An image prior (trained with ``net: null``) is evaluated at every study layer; a feature-map
    prior at the study layers deeper than its own layer ``prior_layer`` (it constrains an
    intermediate representation of the pre-image).

    Attributes:
        name: ``<base>+<experiment>``.
        checkpoint: the prior's checkpoint.
        weight: λ of the prior (its energy is per patch position).
        base: the preset it is added to.
        prior_layer: the feature-map prior's layer (``None`` for an image prior).
        prior_net: the network whose feature maps it models (``None`` for an image prior).
        kind: ``"patch"`` or ``"dae"``.
    """

    name: str
    checkpoint: Path
    weight: float
    base: str = "mv2016"
    prior_layer: str | None = None
    prior_net: str | None = None
    kind: str = "patch"

    @classmethod
    def from_checkpoint(cls, checkpoint: str | Path, weight: float, base: str = "mv2016") -> "LearnedPriorMethod":
        hp = read_checkpoint(checkpoint, "--learned_priors").get("hyper_parameters", {})
        if "expert" not in hp and "sigma" not in hp:
            raise ValueError(f"{checkpoint} is not a PatchPriorModule or DAEPriorModule checkpoint (train one with configs/priors/…)")
        return cls(f"{base}+{Path(checkpoint).parent.name}", Path(checkpoint), weight, base, hp.get("layer"), hp.get("net"),
                   "dae" if "sigma" in hp else "patch")

    def layers(self, study_layers: Sequence[str]) -> list[str]:
        return list(study_layers)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "learned_prior", "checkpoint": str(self.checkpoint), "weight": self.weight,
                "base": self.base, "prior_layer": self.prior_layer}

    def reconstructor(self, net: LayeredNetwork, layer: str, *, iterations_scale: float, seed: int, progress: bool) -> Reconstructor:
        from deeprestore.priors import DAEPrior, load_dae_prior, load_patch_prior
        from deeprestore.priors.learned_prior import FeatureMapPrior, PatchImagePrior

        if self.prior_net is not None and self.prior_net != net.name:
            raise ValueError(f"{self.checkpoint} models {self.prior_net}'s features, the study inverts {net.name}")
        device = net.mean.device
        if self.kind == "dae":
            module = load_dae_prior(str(self.checkpoint), "--learned_priors")
            prior = DAEPrior(module.dae.to(device), float(module.noise_scale), *((net, self.prior_layer) if self.prior_net else ()))
        else:
            energy = load_patch_prior(str(self.checkpoint), "--learned_priors").energy.to(device)
            prior = FeatureMapPrior(energy, net, self.prior_layer) if self.prior_net else PatchImagePrior(energy)
        base = get_preset(self.base)
        preset = replace(base, name=self.name, priors=lambda stride: [*base.priors(stride), (prior, self.weight)])

        def run(images: Tensor) -> tuple[Tensor, list[int | None]]:
            result = invert(net, images, [layer], preset, iterations_scale=iterations_scale, seed=seed, progress=progress)
            return result.images.detach(), list(result.diverged_at)

        return run


Method = PresetMethod | InverterMethod | LearnedPriorMethod


def _checkpoint_in(folder: Path) -> Path | None:
    """The checkpoint to evaluate in an experiment folder: the newest ``best-*.ckpt``, else
    ``stacked.ckpt``, else ``last.ckpt``, else ``None``."""
    best = sorted(folder.glob("best-*.ckpt"), key=lambda p: (p.stat().st_mtime, p.name))
    if best:
        return best[-1]
    for name in ("stacked.ckpt", "last.ckpt"):
        if (folder / name).is_file():
            return folder / name
    return None


def _read_hparams(path: Path) -> dict[str, Any]:
    """The hyper-parameters stored in a Lightning checkpoint (empty if unreadable)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # a corrupt or foreign file must not stop the study
        logger.warning("cannot read checkpoint %s: %s", path, error)
        return {}
    return dict(ckpt.get("hyper_parameters", {})) if isinstance(ckpt, dict) else {}


def find_inverter_checkpoints(root: str | Path, net: str, weights: str = "pretrained") -> tuple[list[InverterMethod], list[str]]:
    """The inverting networks for ``net`` under ``root``: one per experiment folder.

    ``root`` holds one folder per experiment (``checkpoints/<experiment>/``, as train.py writes
    them); a folder that itself holds checkpoints is taken as a single experiment.

    Args:
        root: the checkpoints root.
        net: network name the inverters must have been trained for.
        weights: the network weights they must have been trained with.

    Returns:
        ``(methods sorted by name, notes)``; notes say why a folder was left out.
    """
    root = Path(root)
    if not root.is_dir():
        return [], [f"no checkpoints folder {root}: no inverting networks evaluated"]
    folders = [root] if any(root.glob("*.ckpt")) else sorted(p for p in root.iterdir() if p.is_dir())
    found, notes = [], []
    for folder in folders:
        path = _checkpoint_in(folder)
        if path is None:
            continue
        hp = _read_hparams(path)
        if not {"net", "layer", "mode"} <= set(hp):
            notes.append(f"{path}: not an inverting-network checkpoint (no net/layer/mode hyper-parameters)")
        elif hp["net"] != net:
            notes.append(f"{path}: trained for {hp['net']}, not {net}")
        elif hp.get("weights", "pretrained") != weights:
            notes.append(f"{path}: trained with weights {hp.get('weights')!r}, the study uses {weights!r}")
        else:
            found.append((folder.name, path, str(hp["mode"]), str(hp["layer"]), str(hp.get("weights", "pretrained"))))
    return _name_inverters(found), notes


def _name_inverters(found: Iterable[tuple[str, Path, str, str, str]]) -> list[InverterMethod]:
    """``inverter-<mode>``, plus ``-<experiment>`` where two experiments share mode and layer."""
    found = list(found)
    count: dict[tuple[str, str], int] = {}
    for _, _, mode, layer, _ in found:
        count[(mode, layer)] = count.get((mode, layer), 0) + 1
    methods = []
    for experiment, path, mode, layer, weights in found:
        name = f"inverter-{mode}" if count[(mode, layer)] == 1 else f"inverter-{mode}-{experiment}"
        methods.append(InverterMethod(name, path, experiment, mode, layer, weights))
    return sorted(methods, key=lambda m: (m.name, m.layer))


def plan_jobs(methods: Sequence[Method], layers: Sequence[str], net: LayeredNetwork) -> list[tuple[Method, str]]:
    """Every ``(method, layer)`` job: presets at every study layer, inverters at their own.

    Raises:
        ValueError: an unknown layer (the message lists the network's layers), or no job.
    """
    for layer in layers:
        net.check_layer(layer)
    jobs = [(m, net.check_layer(layer)) for m in methods for layer in sorted(m.layers(layers), key=net.index)
            if getattr(m, "prior_layer", None) is None or net.index(layer) > net.index(m.prior_layer)]
    if not jobs:
        raise ValueError("nothing to evaluate: no presets and no inverting-network checkpoints")
    return jobs


# -- scoring ------------------------------------------------------------------------------------
@torch.no_grad()
def score(net: LayeredNetwork, layer: str, originals: Tensor, reconstructions: Tensor) -> dict[str, Tensor]:
    """Per-image scores of reconstructions against the originals.

    Args:
        net: the network.
        layer: the layer for the feature error.
        originals: ``N×3×H×W`` in [0, 1].
        reconstructions: ``N×3×H×W`` (library units; clamped to [0, 1] here, non-finite → 0.5).

    Returns:
        ``{"mse", "psnr", "ssim", "feature_error"}`` float tensors ``(N,)`` and ``"top1_kept"``
        a bool tensor ``(N,)``.
    """
    recon = torch.nan_to_num(reconstructions.float(), nan=0.5, posinf=1.0, neginf=0.0).clamp(0.0, 1.0)
    scores = image_metrics(recon, originals)
    last = net.layer_names[-1]
    n = len(originals)
    feats = net.features(torch.cat([recon, originals]), list(dict.fromkeys([layer, last])))
    scores["feature_error"] = feature_error(feats[layer][:n], feats[layer][n:])
    logits = feats[last]
    scores["top1_kept"] = logits[:n].argmax(dim=1) == logits[n:].argmax(dim=1)
    return scores


def _rows(method: str, net: str, layer: str, names: Sequence[str], scores: Mapping[str, Tensor], diverged_at: Sequence[int | None]) -> list[Row]:
    """One row per image (see the module table)."""
    values = {k: v.detach().cpu().tolist() for k, v in scores.items()}
    return [
        {"method": method, "net": net, "layer": layer, "image": name,
         **{k: float(values[k][i]) for k in FLOAT_COLUMNS}, "top1_kept": bool(values["top1_kept"][i]),
         "diverged": diverged_at[i] is not None}
        for i, name in enumerate(names)
    ]


# -- the CSV ------------------------------------------------------------------------------------
def read_rows(path: str | Path) -> list[Row]:
    """Rows of a ``metrics.csv`` with typed values (floats, bools); ``[]`` if there is none.

    Raises:
        ValueError: a CSV whose header lacks the required columns.
    """
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ALL_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path} lacks the columns {missing}; use another output folder")
        return [_typed(row) for row in reader]


def _typed(row: Mapping[str, str]) -> Row:
    out: Row = {c: row[c] for c in ALL_COLUMNS}
    for c in FLOAT_COLUMNS:
        out[c] = float(row[c])
    for c in BOOL_COLUMNS:
        out[c] = row[c] == "True"
    return out


def write_rows(path: str | Path, rows: Sequence[Row]) -> Path:
    """Write all rows to ``path`` atomically (temporary file + :func:`os.replace`)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(ALL_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: repr(row[c]) if isinstance(row[c], float) else row[c] for c in ALL_COLUMNS})
    return atomic_write(path, lambda f: f.write(text.getvalue().encode()))


def _finished(rows: Sequence[Row], net: str, names: Sequence[str]) -> set[tuple[str, str]]:
    """``(method, layer)`` jobs whose rows cover every image."""
    seen: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        if row["net"] == net:
            seen.setdefault((row["method"], row["layer"]), set()).add(row["image"])
    wanted = set(names)
    return {job for job, images in seen.items() if wanted <= images}


# -- config -------------------------------------------------------------------------------------
def _check_resumable(path: Path, config: Mapping[str, Any]) -> None:
    """Refuse to add to a study folder whose earlier settings give different numbers."""
    if not path.is_file():
        return
    old = yaml.safe_load(path.read_text()) or {}
    changed = {k: (old.get(k), config[k]) for k in RESUME_KEYS if k in config and old.get(k) != config[k]}
    if changed:
        details = "; ".join(f"{k}: {a!r} before, {b!r} now" for k, (a, b) in changed.items())
        raise ValueError(f"{path.parent} holds a study with other settings ({details}); use another --out")


def _write_config(path: Path, config: Mapping[str, Any]) -> None:
    text = yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True)
    atomic_write(path, lambda f: f.write(text.encode()))


def file_stem(text: str) -> str:
    """``text`` with every character outside ``[A-Za-z0-9._-]`` replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


# -- the study ----------------------------------------------------------------------------------
@dataclass
class StudyResult:
    """What :func:`run_study` returns.

    Attributes:
        out: the study folder.
        rows: every row of ``metrics.csv`` (earlier runs' included).
        ran: the jobs run now, as ``(method, layer)``.
        skipped: the jobs found finished in ``metrics.csv`` and skipped.
        diverged: ``(method, layer, image)`` of the images that diverged in this run.
        seconds: wall time of each job run now.
    """

    out: Path
    rows: list[Row]
    ran: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    diverged: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: dict[tuple[str, str], float] = field(default_factory=dict)


def run_job(
    net: LayeredNetwork,
    method: Method,
    layer: str,
    images: Tensor,
    names: Sequence[str],
    *,
    iterations_scale: float,
    batch_size: int,
    seed: int,
    progress: bool,
) -> tuple[list[Row], Tensor]:
    """Reconstruct and score all images for one ``(method, layer)``, in batches.

    Args:
        images: ``N×3×H×W`` in [0, 1] on the network's device.

    Returns:
        ``(rows, reconstructions N×3×H×W on the CPU, unclamped)``.
    """
    run = method.reconstructor(net, layer, iterations_scale=iterations_scale, seed=seed, progress=progress)
    rows, recons = [], []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        recon, diverged_at = run(batch)
        rows += _rows(method.name, net.name, layer, names[start : start + batch_size], score(net, layer, batch, recon), diverged_at)
        recons.append(recon.detach().float().cpu())
    return rows, torch.cat(recons)


#: the study's originals, ``{"images": names, "originals": N×3×H×W}``, beside the reconstructions
ORIGINALS_FILE = "originals.pt"


def _save_job_outputs(out: Path, method: str, layer: str, images: Tensor, names: Sequence[str], recon: Tensor, grid_images: int) -> None:
    """``grids/<method>_<layer>.png`` and ``reconstructions/<method>_<layer>.pt``."""
    stem = f"{file_stem(method)}_{file_stem(layer)}"
    if grid_images > 0:
        k = min(grid_images, len(images))
        save_png(comparison_grid(images[:k].cpu(), recon[:k].clamp(0, 1)), out / "grids" / f"{stem}.png")
    payload = {"images": list(names), "reconstructions": recon}
    atomic_write(out / "reconstructions" / f"{stem}.pt", lambda f: torch.save(payload, f))


def run_study(
    net: LayeredNetwork,
    images: Tensor,
    names: Sequence[str],
    layers: Sequence[str],
    methods: Sequence[Method],
    out: str | Path,
    *,
    iterations_scale: float = 1.0,
    batch_size: int = 8,
    seed: int = 0,
    grid_images: int = 8,
    progress: bool = True,
    config: Mapping[str, Any] | None = None,
) -> StudyResult:
    """Run (or resume) a study and write ``metrics.csv``, grids, reconstructions and ``config.yaml``.

    Args:
        net: the network (its device is the study's device).
        images: ``N×3×H×W`` originals in [0, 1].
        names: ``N`` unique image names.
        layers: the study's layers (presets run at all of them).
        methods: presets and inverters (see :func:`find_inverter_checkpoints`).
        out: the study folder.
        iterations_scale: multiplies the presets' iterations.
        batch_size: images per batch.
        seed: seed of the initial noise and the jitter.
        grid_images: images shown in each grid (0: no grids).
        progress: show progress bars.
        config: the resolved settings to save as ``config.yaml`` (the methods are added).

    Raises:
        ValueError: bad arguments, an unknown layer, or a study folder with other settings.
    """
    if images.ndim != 4 or images.shape[1] != 3 or len(images) == 0:
        raise ValueError(f"expected images N×3×H×W with N ≥ 1, got {tuple(images.shape)}")
    if len(names) != len(images) or len(set(names)) != len(names):
        raise ValueError(f"need {len(images)} unique image names, got {list(names)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    check_crop_size(min(images.shape[-2:]))
    jobs = plan_jobs(methods, layers, net)
    out = Path(out)
    config = {**(config or {}), "random_streams": RANDOM_STREAMS, "methods": [m.describe() for m in methods]}
    _check_resumable(out / "config.yaml", config)
    out.mkdir(parents=True, exist_ok=True)
    _write_config(out / "config.yaml", config)

    device = net.mean.device
    images = images.to(device)
    originals = {"images": list(names), "originals": images.cpu()}
    atomic_write(out / "reconstructions" / ORIGINALS_FILE, lambda f: torch.save(originals, f))
    csv_path = out / "metrics.csv"
    rows = read_rows(csv_path)
    done = _finished(rows, net.name, names)
    result = StudyResult(out, rows)
    bar = tqdm(jobs, desc="inversion study", unit="job", disable=not progress)
    for method, layer in bar:
        job = (method.name, layer)
        bar.set_postfix(method=method.name, layer=layer)
        if job in done:
            result.skipped.append(job)
            continue
        started = time.perf_counter()
        new, recon = run_job(net, method, layer, images, names, iterations_scale=iterations_scale,
                             batch_size=batch_size, seed=seed, progress=progress)
        _save_job_outputs(out, method.name, layer, images, names, recon, grid_images)
        keep = [r for r in result.rows if (r["method"], r["layer"]) != job or r["net"] != net.name]
        result.rows = keep + new
        write_rows(csv_path, result.rows)
        result.ran.append(job)
        result.seconds[job] = time.perf_counter() - started
        result.diverged += [(r["method"], r["layer"], r["image"]) for r in new if r["diverged"]]
    bar.close()
    return result
