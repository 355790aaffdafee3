"""The diversity objective across a batch, against a direct computation of Lucid's penalty."""

from __future__ import annotations

import pytest
import torch

from deeprestore.inversion.objectives import gram_diversity, normalised_grams


def test_the_diversity_of_identical_images_is_zero_and_of_one_image_too():
    features = torch.rand(1, 4, 5, 5).expand(3, -1, -1, -1)
    torch.testing.assert_close(gram_diversity(features), torch.zeros(3), atol=1e-6, rtol=0)
    assert gram_diversity(torch.rand(1, 4, 5, 5)).tolist() == [0.0]


def test_the_diversity_is_lucids_penalty_rescaled():
    """Lucid: penalty = Σ_i Σ_{j≠i} ⟨Ĝ_i, Ĝ_j⟩ / N with Ĝ the l2-normalised Gram matrix; ours:
    (N−1)(1 − mean d) equals it."""
    torch.manual_seed(0)
    features = torch.rand(4, 6, 3, 3)
    grams = []
    for f in features:
        flat = f.reshape(6, -1)
        g = flat @ flat.T
        grams.append(g / g.norm())
    n = len(grams)
    penalty = sum(float((grams[i] * grams[j]).sum()) for i in range(n) for j in range(n) if j != i) / n
    assert (n - 1) * (1 - float(gram_diversity(features).mean())) == pytest.approx(penalty, rel=1e-5)


def test_orthogonal_styles_are_fully_diverse_and_vector_features_are_refused():
    features = torch.zeros(2, 2, 1, 4)
    features[0, 0] = 1.0  # only channel 0 active: Gram e0e0ᵀ
    features[1, 1] = 1.0  # only channel 1: e1e1ᵀ, orthogonal to it
    torch.testing.assert_close(gram_diversity(features), torch.ones(2))
    torch.testing.assert_close(normalised_grams(features)[0], torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="map-shaped"):
        gram_diversity(torch.rand(2, 10))
