"""``python -m deeprestore.stats``: feature-map statistics of a network layer (Harder 2017, §4.1, figure 4).

Streams ``--images`` random crops (of the embedded sample photos, or of ``--image_paths``) through
the network and writes, into ``--out``, for every layer::

    stats_<layer>.json        numbers: shapes, images, Toeplitz distances (total / interior / by
                              border / permuted reference / split-half noise) of the covariance
                              and its inverse, eigenvalues, channel covariance, Gram, sparsity
    stats_<layer>.npz         the matrices (spatial covariance, inverse, channel covariance, Gram …)
    covariance_<layer>.png    thesis figure 4: covariance, inverse, nearest Toeplitz, border effects
    gram_<layer>.png          mean Gram matrix
    sparsity_<layer>.png      zero fraction, Hoyer sparsity

and ``stationarity.png`` (distance against border, all layers) and ``config.yaml``; every file is
written atomically.

Examples::

    python -m deeprestore.stats --net efficientnet_lite0 --layers block4 block8 --images 200 --out reports/stats
    python -m deeprestore.stats --layers block2 --image_paths photos/ --images 500 --crop_size 128
    python -m deeprestore.stats --net vgg16 --weights vgg16.pth --layers pool5 --crop_size 224   # the thesis's 7×7
"""

from __future__ import annotations

import io
import json
import logging
import math
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from jsonargparse import ActionConfigFile, ArgumentParser, Namespace

from datamodules.skips import SkipTracker
from deeprestore.atomic_io import atomic_write
from deeprestore.cli_errors import run_command
from deeprestore.cli_options import as_list, as_paths, resolve_device, writable_folder
from deeprestore.metrics import save_figure
from deeprestore.nets import load_network
from deeprestore.stats.collect import collect_statistics, feature_map_shapes
from deeprestore.stats.figures import (
    covariance_figure,
    gram_figure,
    sparsity_figure,
    stationarity_figure,
)
from deeprestore.stats.images import (
    SPLITS,
    RandomCrops,
    batched,
    file_sources,
    sample_photo_sources,
)
from deeprestore.stats.layer_stats import LayerResult

__all__ = ["StatsRun", "build_parser", "cli", "main", "run"]

logger = logging.getLogger(__name__)

#: ``--layers`` when none are given.
DEFAULT_LAYERS: dict[str, list[str]] = {
    "efficientnet_lite0": ["block2", "block4", "block8"],
    "alexnet": ["pool5"],
    "vgg16": ["pool5"],
}


@dataclass
class StatsRun:
    """What a run produced.

    Attributes:
        out: the output folder.
        results: layer → :class:`LayerResult`.
        files: every file written.
        skipped: ``(image, reason)`` of every skipped image.
        skip_report: the one-line total of used and skipped images.
    """

    out: Path
    results: dict[str, LayerResult]
    files: list[Path]
    skipped: list[tuple[str, str]]
    skip_report: str


def build_parser() -> ArgumentParser:
    """The command line; every option can also come from a YAML file given to ``--config``."""
    p = ArgumentParser(
        prog="python -m deeprestore.stats", description=(__doc__ or "").split("\n\n")[0], default_env=False, exit_on_error=False
    )
    p.add_argument("--config", action=ActionConfigFile, help="a YAML file of these options")
    p.add_argument(
        "--net",
        type=str,
        default="efficientnet_lite0",
        help="network: a zoo name (efficientnet_lite0, alexnet, vgg16 …), torchvision/<model>, timm/<model> or module:callable",
    )
    p.add_argument("--weights", type=str, default="pretrained", help="pretrained, a state-dict path, or random (plumbing only)")
    p.add_argument(
        "--layers",
        type=str,
        nargs="*",
        default=None,
        help="layers with feature maps (default for efficientnet_lite0: block2 block4 block8; vgg16/alexnet: pool5)",
    )
    p.add_argument("--images", type=int, default=200, help="number of random crops (the thesis used 200 images)")
    p.add_argument(
        "--image_paths", type=str, nargs="*", default=None, help="image files or folders to crop from (default: the embedded sample photos)"
    )
    p.add_argument(
        "--splits",
        type=str,
        nargs="*",
        default=list(SPLITS),
        help="sample-photo splits to crop from (default: all 11 photos: train val test)",
    )
    p.add_argument("--crop_size", type=int, default=128, help="side of the square crops")
    p.add_argument(
        "--resize", type=int | None, default=None, help="shorter side of every photo before cropping (default 2×crop_size; 0: native size)"
    )
    p.add_argument("--batch_size", type=int, default=16, help="crops per batch")
    p.add_argument("--seed", type=int, default=0, help="seed of the photo order, crop positions and permuted reference")
    p.add_argument("--rel_eps", type=float, default=1e-6, help="relative ridge of the inverse covariance: (Σ + eps·tr(Σ)/D·I)⁻¹")
    p.add_argument("--border", type=int, default=1, help="positions left out at each edge for the 'interior' Toeplitz distance")
    p.add_argument("--zero_tol", type=float, default=0.0, help="activations with |x| ≤ zero_tol count as zero (sparsity)")
    p.add_argument("--max_positions", type=int, default=4096, help="refuse layers with more h·w positions (the covariance is (h·w)²)")
    p.add_argument("--device", type=str, default="auto", help="auto (cuda if available), cpu, cuda …")
    p.add_argument("--out", type=str, default="reports/stats", help="output folder")
    p.add_argument("--dpi", type=int, default=120, help="resolution of the PNG figures")
    p.add_argument("--progress", type=bool, default=True, help="show a progress bar")
    return p


def _write_json(path: Path, data: dict[str, Any]) -> Path:
    text = json.dumps(data, indent=2, allow_nan=False) + "\n"
    return atomic_write(path, lambda f: f.write(text.encode()))


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return atomic_write(path, lambda f: f.write(buf.getvalue()))


def run(cfg: Namespace, command: str | None = None) -> StatsRun:
    """Compute and write the statistics described by ``cfg`` (a parsed namespace).

    Raises:
        ValueError: a bad option, an unknown or vector layer, or an empty image set.
        FileNotFoundError: an image path or weights file that does not exist.
    """
    for name in ("images", "crop_size", "batch_size", "max_positions", "dpi"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"--{name} must be positive, got {getattr(cfg, name)}")
    if cfg.border < 0 or cfg.zero_tol < 0 or cfg.rel_eps < 0:
        raise ValueError("--border, --zero_tol and --rel_eps must be non-negative")
    device = resolve_device(cfg.device)
    net = load_network(cfg.net, weights=cfg.weights, seed=cfg.seed).to(device)
    layers = as_list(cfg.layers) or DEFAULT_LAYERS.get(net.name, [])
    if not layers:
        raise ValueError(f"no layers given; layers of {net.name}: {', '.join(net.layer_names)}")
    layers = sorted(dict.fromkeys(net.check_layer(layer) for layer in layers), key=net.index)
    shapes = feature_map_shapes(net, layers, cfg.crop_size)
    for layer, (_, h, w) in shapes.items():
        if h * w > cfg.max_positions:
            raise ValueError(
                f"layer {layer} has {h}×{w} = {h * w} positions at crop size {cfg.crop_size}: the covariance "
                f"would be {h * w}² entries (limit --max_positions {cfg.max_positions}); use a smaller --crop_size"
            )
    image_paths = as_paths(cfg.image_paths)
    skips = SkipTracker()
    sources = file_sources(image_paths, skips) if image_paths else sample_photo_sources(as_list(cfg.splits) or [])
    crops = RandomCrops(sources, cfg.images, cfg.crop_size, cfg.resize, cfg.seed, skips)
    out = writable_folder(cfg.out, "--out", create=False)
    config = {
        "net": net.name,
        "weights": cfg.weights,
        "layers": layers,
        "images": cfg.images,
        "image_paths": image_paths,
        "splits": None if image_paths else as_list(cfg.splits),
        "crop_size": cfg.crop_size,
        "resize": crops.resize,
        "batch_size": cfg.batch_size,
        "seed": cfg.seed,
        "rel_eps": cfg.rel_eps,
        "border": cfg.border,
        "zero_tol": cfg.zero_tol,
        "max_positions": cfg.max_positions,
        "device": str(device),
        "out": str(out),
        "dpi": cfg.dpi,
        "command": command,
    }
    stats = collect_statistics(
        net, batched(crops, cfg.batch_size), layers, shapes, cfg.zero_tol, device, cfg.progress, math.ceil(cfg.images / cfg.batch_size)
    )
    # nothing is written before the statistics are complete (an empty image set leaves no folder)
    files = [atomic_write(out / "config.yaml", lambda f: f.write(yaml.safe_dump(config, sort_keys=False).encode()))]
    image_set = {
        "source": "files" if image_paths else "sample_photos",
        "crops": crops.produced,
        "crop_size": cfg.crop_size,
        "resize": crops.resize,
        "seed": cfg.seed,
        "photos_used": crops.used,
        "skipped": [{"image": n, "reason": r} for n, r in crops.skipped],
    }
    results: dict[str, LayerResult] = {}
    for layer in layers:
        result = stats[layer].result(cfg.rel_eps, cfg.border, cfg.seed)
        result.summary["net"] = net.name
        result.summary["weights"] = net.weights
        result.summary["image_set"] = image_set
        results[layer] = result
        files.append(_write_json(out / f"stats_{layer}.json", result.summary))
        files.append(_write_npz(out / f"stats_{layer}.npz", result.arrays()))
        for kind, make in (("covariance", covariance_figure), ("gram", gram_figure), ("sparsity", sparsity_figure)):
            files.append(save_figure(make(result), out / f"{kind}_{layer}.png", dpi=cfg.dpi))
    files.append(save_figure(stationarity_figure(list(results.values())), out / "stationarity.png", dpi=cfg.dpi))
    return StatsRun(out, results, files, list(crops.skipped), skips.report())


def summary_table(results: dict[str, LayerResult]) -> str:
    """One line per layer: Toeplitz distances of the covariance and its inverse (whole grid,
    interior, split-half noise of the whole-grid number, permuted reference) and sparsity."""
    head = f"{'tot':>7}{'int':>7}{'noise':>7}{'perm':>7}"
    lines = [f"{'':<22}{'covariance':^28}{'inverse covariance':^28}", f"{'layer':<10}{'C×h×w':<12}{head}{head}{'zeros':>8}{'Hoyer':>8}"]

    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    for layer, r in results.items():
        s = r.summary
        row = f"{layer:<10}{'×'.join(map(str, r.shape)):<12}"
        for key in ("covariance", "inverse_covariance"):
            d = s["toeplitz_distance"][key]
            noise = d.get("split_half_noise", {}).get("total")
            row += f"{fmt(d['total']):>7}{fmt(d['interior']):>7}{fmt(noise):>7}{fmt(d['permuted_reference']):>7}"
        row += f"{fmt(s['sparsity']['zero_fraction']):>8}{fmt(s['sparsity']['map_hoyer_mean']):>8}"
        lines.append(row)
    return "\n".join(lines)


def main(args: Sequence[str] | None = None) -> StatsRun:
    """Parse ``args`` (default ``sys.argv[1:]``), run, print a summary table."""
    argv = list(sys.argv[1:] if args is None else args)
    cfg = build_parser().parse_args(argv)
    result = run(cfg, shlex.join(["python", "-m", "deeprestore.stats", *argv]))
    print(summary_table(result.results))
    print(f"wrote {len(result.files)} files to {result.out}")
    print(result.skip_report)
    return result


def cli() -> int:
    """The command: a user error is one line on stderr and exit status 2."""
    return run_command(main, "python -m deeprestore.stats")
