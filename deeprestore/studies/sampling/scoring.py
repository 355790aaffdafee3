"""What a batch of sampled images is scored by: the sampling network's class probability, the agreement
of networks that were not sampled through (DeepInversion's judge: Yin et al. 2020), and how different
the chains ended up.

Per chain: the sampling network's top-1 class and its probability (of the target class when the
configuration has one); for each verifier its top-1 and whether it agrees with the target (or, without
one, with the sampling network's top-1). Per configuration: diversity, the mean RMS distance between
two chains' images (0–1 units), and the mean distance of each image to its nearest other chain.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from deeprestore.nets import FeatureNetwork

__all__ = ["chain_scores", "diversity"]


@torch.no_grad()
def chain_scores(images: Tensor, net: FeatureNetwork, verifiers: Mapping[str, FeatureNetwork], target: int | None) -> list[dict]:
    """One dict per image of ``N×3×H×W`` (``[0, 1]``): ``top1``, ``probability`` and per verifier
    ``<name>_top1`` and ``<name>_agrees``."""
    probabilities = net(images).float().softmax(1)
    top1 = probabilities.argmax(1)
    wanted = top1 if target is None else torch.full_like(top1, target)
    rows = [{"top1": int(t), "probability": float(probabilities[i, wanted[i]])} for i, t in enumerate(top1)]
    for name, verifier in verifiers.items():
        theirs = verifier(images).float().argmax(1)
        for i, row in enumerate(rows):
            row[f"{name}_top1"] = int(theirs[i])
            row[f"{name}_agrees"] = bool(theirs[i] == wanted[i])
    return rows


def diversity(images: Tensor) -> float:
    """Mean RMS distance between the images of two different chains (``N ≥ 2``; 0 for one chain)."""
    if len(images) < 2:
        return 0.0
    flat = images.flatten(1).double()
    distances = torch.cdist(flat, flat) / flat.shape[1] ** 0.5
    n = len(images)
    return float(distances.sum() / (n * (n - 1)))
