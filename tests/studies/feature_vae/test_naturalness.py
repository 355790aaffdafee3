"""The naturalness scores: verifier columns agree with a direct forward pass, two copies of one
verifier always agree, and photos are nearer the network's BN statistics than noise."""

from __future__ import annotations

import torch

from deeprestore.nets import load_network
from deeprestore.studies.feature_vae.naturalness import naturalness_scores


def test_scores_agree_with_a_forward_pass_and_tell_photos_from_noise(photo_crops):
    net, lite1 = load_network("efficientnet_lite0"), load_network("efficientnet_lite1")
    photos = photo_crops[:4]
    noise = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    rows = naturalness_scores(torch.cat([photos, noise]), net, {"a": lite1, "b": lite1})
    with torch.no_grad():
        confidence, top1 = lite1(torch.cat([photos, noise])).softmax(1).max(1)
    assert [r["a_top1"] for r in rows] == top1.tolist() and all(r["verifiers_agree"] for r in rows)
    torch.testing.assert_close(torch.tensor([r["b_confidence"] for r in rows]), confidence)
    assert max(r["bn_distance"] for r in rows[:4]) < min(r["bn_distance"] for r in rows[4:])
    assert all(r["verifiers_agree"] is False for r in naturalness_scores(noise, net, {}))  # no verifier: no agreement
