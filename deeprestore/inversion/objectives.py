"""Objectives that couple the images of a batch (Olah, Mordvintsev & Schubert, Distill 2017,
"Feature Visualization", §"Diversity"; Lucid's ``objectives.diversity``).

Several images of one unit tend to show the same thing. Lucid adds a penalty on the similarity
of the images' Gram matrices at a layer (their "style", Gatys et al. 2015), so the batch shows
different facets of what excites the unit. Here that is a per-image *diversity* score, to be
maximised, zero when every image has the same Gram matrix:

    d_i = 1/(N−1) Σ_{j≠i} (1 − ⟨Ĝ_i, Ĝ_j⟩),   Ĝ_i = G_i / ‖G_i‖_F,   G_i = F_i F_iᵀ   (F_i: C×HW)

Lucid's penalty is ``Σ_i Σ_{j≠i} ⟨Ĝ_i, Ĝ_j⟩ / N = (N−1)(1 − mean_i d_i)``: the same gradient up to the
factor ``N − 1``. The engine sums per-image energies, so a term ``−λ d_i`` per image gives every
image the gradient of the whole batch's diversity.
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["gram_diversity", "normalised_grams"]


def normalised_grams(features: Tensor) -> Tensor:
    """``N×C×H×W`` (or ``N×C×L``) features → ``N×C×C`` Gram matrices ``F Fᵀ`` over the positions,
    each divided by its Frobenius norm (a zero map gives a zero matrix)."""
    if features.ndim < 3:
        raise ValueError(f"Gram matrices need map-shaped features N×C×H×W, got shape {tuple(features.shape)}")
    flat = features.flatten(2).float()
    grams = flat @ flat.transpose(1, 2)
    return grams / grams.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1)


def gram_diversity(features: Tensor) -> Tensor:
    """Per-image diversity ``(N,)`` of a batch's features (module docstring): the mean over the
    other images of ``1 −`` the cosine similarity of the Gram matrices; 0 for a batch of one."""
    grams = normalised_grams(features).flatten(1)
    n = grams.shape[0]
    if n < 2:
        return grams.new_zeros(n)
    similarity = grams @ grams.T
    return (n - 1 - (similarity.sum(1) - similarity.diagonal())) / (n - 1)
