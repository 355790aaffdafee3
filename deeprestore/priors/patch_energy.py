"""Patch energy models (over-complete ICA, Fields of Experts) and their image-level energy.

Patch model (Hyvärinen 2005; Roth & Black 2005; MSc thesis eqs. 7, 10, 11)::

    log p(x_patch) = Σᵢ αᵢ G(wᵢᵀ z) + const,     z = A (x_patch − μ)   (whitening, optional)

Image model (thesis eq. 9; Roth & Black's field): the product of the patch model over every
overlapping patch, so ``−log p(x) = −Σ_patches Σᵢ αᵢ G(wᵢᵀ z_patch) + const`` — one
convolution with the composed filters ``W A`` (``m×C×k×k``) and biases ``−W A μ``.

Units: a model works on whatever its patches were, e.g. ``[0, 1]`` library images, Roth's
0–255 grey levels, or a network's feature maps; :class:`~deeprestore.priors.learned.PatchPrior`
converts library images for the engine.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deeprestore.priors.experts import Expert, get_expert
from deeprestore.priors.score_matching import score_matching_objective
from deeprestore.priors.whitening import Whitening

__all__ = ["PatchEnergy"]


class PatchEnergy(nn.Module):
    """``m`` experts on ``C×k×k`` patches, optionally whitened.

    Args:
        expert: ``"ica"`` (−log cosh), ``"foe"`` (Student t) or ``"gauss"``.
        channels: ``C`` of a patch.
        size: ``k``.
        n_filters: ``m`` (over-complete when ``m`` > the whitened dimension).
        whitening: a fitted :class:`Whitening` (``None``: the filters act on raw patches).
        seed: seed of the initial filters (Gaussian, unit-norm rows) and ``α = 1``.

    Parameters: ``filters`` ``m×r`` (on whitened patches), ``log_alphas`` ``(m,)`` (``α = exp``).
    """

    def __init__(self, expert: str, channels: int, size: int, n_filters: int, whitening: Whitening | None = None, seed: int = 0) -> None:
        super().__init__()
        self.expert_name = get_expert(expert).name
        self.channels, self.size = channels, size
        dim = channels * size * size
        self.whitening = whitening if whitening is not None else Whitening(dim)
        if self.whitening.in_dim != dim:
            raise ValueError(f"whitening is for {self.whitening.in_dim}-dim patches, not {channels}×{size}×{size}")
        generator = torch.Generator().manual_seed(seed)
        filters = torch.randn(n_filters, self.whitening.out_dim, generator=generator)
        self.filters = nn.Parameter(filters / filters.norm(dim=1, keepdim=True))
        self.log_alphas = nn.Parameter(torch.zeros(n_filters))

    @property
    def expert(self) -> Expert:
        return get_expert(self.expert_name)

    @property
    def alphas(self) -> Tensor:
        return self.log_alphas.exp()

    @property
    def n_filters(self) -> int:
        return self.filters.shape[0]

    def set_filters(self, filters: Tensor, alphas: Tensor) -> None:
        """Replace the parameters (e.g. with published filters): ``m×r`` and ``(m,)``, α > 0."""
        if alphas.le(0).any():
            raise ValueError("expert weights α must be positive")
        with torch.no_grad():
            self.filters = nn.Parameter(filters.detach().clone().float())
            self.log_alphas = nn.Parameter(alphas.detach().clone().float().log())

    def score_matching_loss(self, patches: Tensor) -> Tensor:
        """Hyvärinen's J̃ on ``T×(C·k·k)`` raw patches (whitened here)."""
        return score_matching_objective(self.whitening(patches), self.filters, self.alphas, self.expert)

    def patch_log_density(self, patches: Tensor) -> Tensor:
        """Unnormalised ``log p`` of ``T×(C·k·k)`` raw patches: ``(T,)``."""
        return (self.expert.G(self.whitening(patches) @ self.filters.T) * self.alphas).sum(1)

    def conv_filters(self) -> tuple[Tensor, Tensor]:
        """The composed filters ``m×C×k×k`` and biases ``(m,)`` acting on raw maps."""
        weight, bias = self.whitening.compose(self.filters)
        return weight.view(-1, self.channels, self.size, self.size), bias

    def responses(self, maps: Tensor) -> Tensor:
        """``wᵢᵀ z`` at every patch of ``N×C×H×W`` maps: ``N×m×(H−k+1)×(W−k+1)``."""
        if maps.ndim != 4 or maps.shape[1] != self.channels:
            raise ValueError(f"expected N×{self.channels}×H×W maps, got {tuple(maps.shape)}")
        weight, bias = self.conv_filters()
        return F.conv2d(maps, weight.to(maps.dtype), bias.to(maps.dtype))

    def field_energy(self, maps: Tensor) -> Tensor:
        """``−Σ_patches Σᵢ αᵢ G(wᵢᵀ z_patch)`` of each of ``N×C×H×W`` maps (thesis eq. 9): ``(N,)``."""
        g = self.expert.G(self.responses(maps))
        return -(g * self.alphas.to(g.dtype).view(1, -1, 1, 1)).sum((1, 2, 3))

    def extra_repr(self) -> str:
        dim = self.channels * self.size * self.size
        return f"expert={self.expert_name}, patch={self.channels}×{self.size}×{self.size} (d={dim}), filters={self.n_filters}"
