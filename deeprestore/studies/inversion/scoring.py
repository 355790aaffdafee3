"""Scores of the inversion study, one row per (method, layer, image), and its ``metrics.csv``.

=====================  ================================================================
column                 meaning
=====================  ================================================================
``method``             preset name, ``<preset>+<prior>`` or ``inverter-<mode>[-<experiment>]``
``net``                network name
``layer``              target layer
``image``              image name (file stem, or the photo's name)
``label``              the image's ImageNet class, when known (else empty)
``mse``                mean squared error of ``clamp(x̂, 0, 1)`` against ``x``
``psnr``               PSNR in dB (same pair)
``ssim``               SSIM (same pair; :func:`deeprestore.metrics.ssim`, Gaussian 11×11)
``feature_error``      ``‖Φ_layer(x̂) − Φ_layer(x)‖ / ‖Φ_layer(x)‖`` with the clamped ``x̂``
``sharpness``          the high-frequency energy ratio ``E_hf(x̂) / E_hf(x)`` (1 = the original's
                       fine detail, < 1 blurred; :func:`deeprestore.metrics.high_frequency_ratio`)
``top1_kept``          ``argmax net(x̂) == argmax net(x)``
``top1_correct``       ``argmax net(x) == label`` (is the network right on the original?); empty
                       without a label
``diverged``           the optimisation of this image stopped on NaN/inf (its last good
                       iterate is scored; see :class:`~deeprestore.inversion.InversionResult`)
``seconds``            the method's wall time for this image: its batch's reconstruction time
                       over the batch size
``training_run``       a trained method's experiment folder (else empty)
``training_wandb_id``  the W&B run id of that training run, if it logged one
=====================  ================================================================

With ``--verifiers.names``, three columns per verifier ``v`` (a network that was not inverted;
DeepInversion's judge, Yin et al. 2020): ``v_top1_kept`` (its argmax on ``x̂`` equals its argmax
on ``x``), ``v_confidence`` (its softmax probability, on ``x̂``, of its class for ``x``) and
``v_feature_error`` (the feature error at its layer matching the study's layer).

With ``--perceptual.names``, after those, one column per perceptual distance of ``clamp(x̂, 0, 1)``
to ``x`` (:func:`perceptual_columns`: ``lpips_alex``, ``lpips_vgg``, ``dists``; LPIPS, Zhang et al.
2018; DISTS, Ding et al. 2020; lower = more similar; :mod:`deeprestore.metrics.perceptual`).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from deeprestore.metrics import PerceptualDistance, feature_error, high_frequency_ratio, image_metrics, perceptual_column
from deeprestore.nets.feature_network import FeatureNetwork

__all__ = [
    "COLUMNS",
    "FLOAT_COLUMNS",
    "VERIFIER_SCORES",
    "Row",
    "perceptual_columns",
    "read_rows",
    "score",
    "score_perceptual",
    "score_verifiers",
    "verifier_columns",
]

COLUMNS: tuple[str, ...] = (
    "method",
    "net",
    "layer",
    "image",
    "label",
    "mse",
    "psnr",
    "ssim",
    "feature_error",
    "sharpness",
    "top1_kept",
    "top1_correct",
    "diverged",
    "seconds",
    "training_run",
    "training_wandb_id",
)
FLOAT_COLUMNS = ("mse", "psnr", "ssim", "feature_error", "sharpness", "seconds")
BOOL_COLUMNS = ("top1_kept", "diverged")
OPTIONAL_COLUMNS = ("label", "top1_correct", "training_run", "training_wandb_id")
#: the columns of each verifier, after its name
VERIFIER_SCORES = ("top1_kept", "confidence", "feature_error")

Row = dict[str, Any]


def scored_images(reconstructions: Tensor) -> Tensor:
    """What every score sees of ``N×3×H×W`` reconstructions: float32, non-finite values → 0.5
    (+inf → 1, −inf → 0), clamped to [0, 1]."""
    return torch.nan_to_num(reconstructions.float(), nan=0.5, posinf=1.0, neginf=0.0).clamp(0.0, 1.0)


@torch.no_grad()
def score(
    net: FeatureNetwork, layer: str, originals: Tensor, reconstructions: Tensor, labels: Sequence[int | None]
) -> dict[str, list[Any]]:
    """Per-image scores of reconstructions against the originals.

    Args:
        net: the network.
        layer: the layer for the feature error.
        originals: ``N×3×H×W`` in [0, 1].
        reconstructions: ``N×3×H×W`` (clamped to [0, 1] here; non-finite values → 0.5).
        labels: ``N`` ImageNet classes or ``None``.

    Returns:
        Lists of length ``N`` under ``mse psnr ssim feature_error sharpness`` (floats), ``top1_kept`` (bools)
        and ``top1_correct`` (bools, ``None`` without a label).
    """
    recon = scored_images(reconstructions)
    scores: dict[str, Tensor] = image_metrics(recon, originals)
    last = net.logits_layer
    n = len(originals)
    feats = net.features(torch.cat([recon, originals.to(recon.dtype)]), list(dict.fromkeys([layer, last])))
    scores["feature_error"] = feature_error(feats[layer][:n], feats[layer][n:])
    scores["sharpness"] = high_frequency_ratio(recon, originals.to(recon.dtype))
    predicted = feats[last][:n].argmax(dim=1), feats[last][n:].argmax(dim=1)
    out: dict[str, list[Any]] = {k: [float(v) for v in scores[k].cpu()] for k in ("mse", "psnr", "ssim", "feature_error", "sharpness")}
    out["top1_kept"] = (predicted[0] == predicted[1]).cpu().tolist()
    truth = predicted[1].cpu().tolist()
    out["top1_correct"] = [None if label is None else truth[i] == label for i, label in enumerate(labels)]
    return out


def verifier_columns(names: Sequence[str]) -> tuple[str, ...]:
    """``<name>_top1_kept <name>_confidence <name>_feature_error`` of each verifier, in order."""
    return tuple(f"{name}_{s}" for name in names for s in VERIFIER_SCORES)


@torch.no_grad()
def score_verifiers(
    verifiers: Mapping[str, tuple[FeatureNetwork, str]], originals: Tensor, reconstructions: Tensor
) -> dict[str, list[Any]]:
    """Per-image scores of reconstructions by networks that were not inverted.

    Args:
        verifiers: name → (network, the layer whose feature error is scored).
        originals: ``N×3×H×W`` in [0, 1].
        reconstructions: ``N×3×H×W`` (clamped to [0, 1] as :func:`score` does).

    Returns:
        Lists of length ``N`` under :func:`verifier_columns` of the names.
    """
    recon = scored_images(reconstructions)
    n = len(originals)
    out: dict[str, list[Any]] = {}
    for name, (verifier, layer) in verifiers.items():
        both = torch.cat([recon, originals.to(recon.dtype)]).to(verifier.mean.device)
        feats = verifier.features(both, list(dict.fromkeys([layer, verifier.logits_layer])))
        logits = feats[verifier.logits_layer].float()
        truth = logits[n:].argmax(dim=1)
        out[f"{name}_top1_kept"] = (logits[:n].argmax(dim=1) == truth).cpu().tolist()
        out[f"{name}_confidence"] = [float(p) for p in logits[:n].softmax(dim=1).gather(1, truth[:, None])[:, 0].cpu()]
        out[f"{name}_feature_error"] = [float(e) for e in feature_error(feats[layer][:n], feats[layer][n:]).cpu()]
    return out


def perceptual_columns(names: Sequence[str]) -> tuple[str, ...]:
    """The column of each perceptual metric, in order: ``lpips-alex`` → ``lpips_alex``."""
    return tuple(perceptual_column(name) for name in names)


@torch.no_grad()
def score_perceptual(metrics: Mapping[str, PerceptualDistance], originals: Tensor, reconstructions: Tensor) -> dict[str, list[float]]:
    """Per-image perceptual distances of reconstructions to the originals.

    Args:
        metrics: name → a module of :func:`~deeprestore.metrics.perceptual_metric`.
        originals: ``N×3×H×W`` in [0, 1].
        reconstructions: ``N×3×H×W`` (clamped to [0, 1] as :func:`score` does).

    Returns:
        Lists of ``N`` floats under :func:`perceptual_columns` of the names.
    """
    recon = scored_images(reconstructions)
    return {perceptual_column(name): [float(d) for d in metric(recon, originals.to(recon.dtype)).cpu()] for name, metric in metrics.items()}


def read_rows(path: str | Path) -> list[Row]:
    """Rows of a ``metrics.csv`` with typed values; ``[]`` if there is none.

    Raises:
        ValueError: a CSV whose header lacks the columns (written by another version).
    """
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path} lacks the columns {missing}; use another --experiment")
        extra = [c for c in reader.fieldnames or [] if c not in COLUMNS]
        return [_typed(row, extra) for row in reader]


def _typed(row: Mapping[str, str], extra: Sequence[str] = ()) -> Row:
    out: Row = {c: (row[c] or None) if c in OPTIONAL_COLUMNS else row[c] for c in COLUMNS}
    for c in extra:  # the verifiers' and the perceptual metrics' columns: a flag, or a number
        out[c] = row[c] == "True" if c.endswith("_top1_kept") else float(row[c])
    for c in FLOAT_COLUMNS:
        out[c] = float(row[c])
    for c in BOOL_COLUMNS:
        out[c] = row[c] == "True"
    out["label"] = int(row["label"]) if row["label"] else None
    out["top1_correct"] = None if not row["top1_correct"] else row["top1_correct"] == "True"
    return out
