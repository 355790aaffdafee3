"""Token sequences of vision transformers laid back on their patch grid.

A ViT layer returns ``N×T×D`` tokens: ``p`` prefix tokens (class, distillation or register
tokens) followed by ``h·w`` patch tokens in row-major order. Everything in this project that reads
feature maps (the feature-map priors and statistics, the inverting networks, the channel
objectives) expects ``N×C×h×w``, so a :class:`~deeprestore.nets.graph_network.GraphNetwork`
returns token layers in the **grid layout** by default: the patch tokens as an ``N×D×h×w`` map,
the prefix tokens dropped (``token_layout="tokens"`` keeps the ``N×T×D`` sequence instead).
"""

from __future__ import annotations

import math

from torch import Tensor

__all__ = ["MAX_PREFIX_TOKENS", "patch_grid", "tokens_to_grid"]

#: The most prefix tokens looked for (a class token, a distillation token, registers).
MAX_PREFIX_TOKENS = 8


def patch_grid(tokens: int, image_size: tuple[int, int]) -> tuple[int, int, int] | None:
    """``(prefix, h, w)`` with ``tokens = prefix + h·w`` and ``h/w = H/W`` for the image size,
    taking the fewest prefix tokens; ``None`` when no such grid exists."""
    height, width = image_size
    for prefix in range(MAX_PREFIX_TOKENS + 1):
        patches = tokens - prefix
        if patches <= 0:
            return None
        h = round(math.sqrt(patches * height / width))
        if h > 0 and patches % h == 0 and abs(h / (patches // h) - height / width) < 1e-6:
            return prefix, h, patches // h
    return None


def tokens_to_grid(tokens: Tensor, image_size: tuple[int, int]) -> Tensor:
    """``N×T×D`` tokens → ``N×D×h×w`` patch map (prefix tokens dropped).

    Returns ``tokens`` unchanged when ``T`` has no patch grid of the image's aspect ratio (a
    3-D tensor that is not a token sequence).
    """
    grid = patch_grid(tokens.shape[1], image_size)
    if tokens.ndim != 3 or grid is None:
        return tokens
    prefix, h, w = grid
    n, _, d = tokens.shape
    return tokens[:, prefix:].transpose(1, 2).reshape(n, d, h, w)
