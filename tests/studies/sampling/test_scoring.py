"""The samples' scores: verifier columns agree with a direct forward pass; diversity is an RMS distance."""

from __future__ import annotations

import torch

from deeprestore.nets import load_network
from deeprestore.studies.sampling.scoring import chain_scores, diversity


def test_scores_agree_with_a_direct_forward_pass():
    net, verifier = load_network("efficientnet_lite0"), load_network("efficientnet_lite1")
    images = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    rows = chain_scores(images, net, {"lite1": verifier}, target=207)
    with torch.no_grad():
        mine, theirs = net(images).softmax(1), verifier(images).argmax(1)
    assert [r["top1"] for r in rows] == mine.argmax(1).tolist()
    assert [r["probability"] for r in rows] == [float(p) for p in mine[:, 207]]
    assert [r["lite1_top1"] for r in rows] == theirs.tolist() and [r["lite1_agrees"] for r in rows] == (theirs == 207).tolist()
    untargeted = chain_scores(images, net, {"lite1": verifier}, target=None)
    assert [r["lite1_agrees"] for r in untargeted] == (theirs == mine.argmax(1)).tolist()


def test_diversity_is_the_mean_rms_distance_between_chains():
    a, b = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.5)
    assert diversity(torch.cat([a, a])) == 0.0 and diversity(a) == 0.0
    assert abs(diversity(torch.cat([a, b])) - 0.5) < 1e-9
