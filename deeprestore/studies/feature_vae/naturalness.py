"""How natural an image looks to networks, without a reference image: the batch-norm statistics
distance of its feature maps (DeepInversion's ``R_feature``, Yin et al. 2020, eq. 4, per image) and
the confidence and agreement of networks that were not inverted.

Per image ``N×3×H×W`` in [0, 1]: ``bn_distance`` (under the network whose maps were modelled, every
BN layer to its logits), per verifier ``<name>_top1`` and ``<name>_confidence`` (its largest class
probability), and ``verifiers_agree`` (every verifier gives the same top-1).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from deeprestore.nets import FeatureNetwork
from deeprestore.priors.batchnorm_statistics import BatchNormStatistics

__all__ = ["naturalness_scores"]


@torch.no_grad()
def naturalness_scores(images: Tensor, net: FeatureNetwork, verifiers: Mapping[str, FeatureNetwork]) -> list[dict]:
    """One dict per image (see the module's doc)."""
    statistics = BatchNormStatistics(net)
    with statistics.recording():
        net(images)
    distance = statistics.energy()
    rows: list[dict] = [{"bn_distance": float(d)} for d in distance]
    tops = []
    for name, verifier in verifiers.items():
        probabilities = verifier(images).float().softmax(1)
        confidence, top1 = probabilities.max(1)
        tops.append(top1)
        for i, row in enumerate(rows):
            row[f"{name}_top1"] = int(top1[i])
            row[f"{name}_confidence"] = float(confidence[i])
    for i, row in enumerate(rows):
        row["verifiers_agree"] = bool(tops) and all(bool(t[i] == tops[0][i]) for t in tops)
    return rows
