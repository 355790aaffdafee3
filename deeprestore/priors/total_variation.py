"""The TV^β prior of Mahendran & Vedaldi (CVPR 2015; IJCV 2016; MSc thesis eq. 5)."""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from torch import Tensor

from deeprestore.precision import compute_dtype
from deeprestore.priors._checks import check_image_batch
from deeprestore.priors.base import ImagePrior
from deeprestore.priors.units import MV_SCALE, V

__all__ = ["TotalVariation"]

Boundary = Literal["replicate", "crop"]


class TotalVariation(ImagePrior):
    r"""Total variation ``TV^β(x) = Σ_k Σ_ij ((x_{k,i,j+1} − x_{kij})² + (x_{k,i+1,j} − x_{kij})²)^{β/2}``.

    One value per image. Forward differences; the power is applied **per channel** and the
    channels are summed **outside** the power, as in the authors' code (2015
    ``deep-goggle/core/invert_nn.m`` and 2016 ``nnpreimage/layers/tv.m``: ``v`` is computed
    per channel and everything is summed). β = 2 (M&V 2016 default, "quadratic" TV) and β = 1
    (classic isotropic TV per channel) are the values used in the papers (1.5 too, in a study).

    Boundary (``boundary``) — differences only between pixels that exist; no padding values:

    * ``"replicate"`` (default, exactly M&V's code): every pixel ``(i, j)`` contributes one term;
      a forward difference that would leave the image (last column horizontally, last row
      vertically) is 0 — what ``x(:,[2:end end]) − x`` computes. The last column still
      contributes its vertical differences and the last row its horizontal ones.
    * ``"crop"``: only the ``(H−1)×(W−1)`` pixels that have both a right and a lower neighbour
      contribute. Equal to ``"replicate"`` minus the last row/column terms.

    Smoothing for β < 2: the power ``s^{β/2}`` of the squared gradient norm ``s`` has an
    unbounded derivative at ``s = 0`` (NaN gradients for a flat region), so for β < 2 the term is
    ``(s + ε)^{β/2} − ε^{β/2}``: the gradient is finite everywhere and a flat image still has
    energy exactly 0. ``ε`` is in the squared units in which the differences are measured (after
    the 255 and 1/V scaling when ``normalize=True``); the default 1e-12 moves each non-flat term
    by at most ``ε^{β/2}`` (1e-6 for β = 1) and only changes the gradient where the gradient norm
    is below ~1e-6, i.e. ~1e-5 grey levels. For β ≥ 2 no ε is used (the function is
    differentiable). M&V's code instead clamps the norm at 1e-6 (2016) / 1e-5 (2015, 0–255 units)
    inside its hand-written gradient only.

    Normalisation (``normalize=True``, default): differences are measured in M&V units (0–255
    scale; the mean colour cancels in a difference) and the sum is divided by ``H W V^β``,
    ``V = B/6.5`` (IJCV 2016 normalised energy; code: ``Σ v / (H W)`` times ``λ = (6.5/B)^β``). ``H W`` is the
    number of pixels, not of differences. With ``normalize=False`` the formula is evaluated on
    the tensor as given, without scaling.

    Args:
        beta: the exponent β > 0 (M&V 2016: 2; M&V 2015: 1 or 2).
        normalize: measure in M&V units and divide by ``H W scale^β``.
        eps: ε for β < 2 (ignored for β ≥ 2), > 0; default 1e-12.
        boundary: ``"replicate"`` or ``"crop"`` (see above).
        scale: the ``V`` of the normalisation (M&V: 80/6.5).

    Shape:
        input ``N×C×H×W`` floating point (library units: [0, 1]) → output ``(N,)``.
    """

    def __init__(
        self,
        beta: float = 2.0,
        normalize: bool = True,
        eps: float = 1e-12,
        boundary: Boundary = "replicate",
        scale: float = V,
    ) -> None:
        super().__init__()
        if not beta > 0:
            raise ValueError(f"beta must be > 0, got {beta}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        if boundary not in ("replicate", "crop"):
            raise ValueError(f"boundary must be 'replicate' or 'crop', got {boundary!r}")
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        self.beta = float(beta)
        self.normalize = bool(normalize)
        self.eps = float(eps)
        self.boundary: Boundary = boundary
        self.scale = float(scale)

    def squared_gradient(self, images: Tensor) -> Tensor:
        """``s_kij = (Δ_h x)² + (Δ_v x)²`` per channel and pixel.

        Returns ``N×C×H×W`` (``"replicate"``) or ``N×C×(H−1)×(W−1)`` (``"crop"``), in the units
        the energy uses (scaled by 255/V when ``normalize=True``).
        """
        x = check_image_batch(images)
        x = x.to(compute_dtype(x))
        if self.normalize:
            x = x * (MV_SCALE / self.scale)
        if self.boundary == "replicate":
            dh = F.pad(x[..., :, 1:] - x[..., :, :-1], (0, 1, 0, 0))
            dv = F.pad(x[..., 1:, :] - x[..., :-1, :], (0, 0, 0, 1))
        else:
            dh = x[..., :-1, 1:] - x[..., :-1, :-1]
            dv = x[..., 1:, :-1] - x[..., :-1, :-1]
        return dh.square() + dv.square()

    def forward(self, images: Tensor) -> Tensor:
        """``N×C×H×W`` → ``(N,)`` TV^β energies (see the class docstring)."""
        s = self.squared_gradient(images)
        half = self.beta / 2.0
        if self.beta < 2.0:
            terms = (s + self.eps).pow(half) - self.eps**half
        else:
            terms = s.pow(half)
        energy = terms.sum(dim=(1, 2, 3))
        if self.normalize:
            energy = energy / (images.shape[2] * images.shape[3])
        return energy

    @property
    def name(self) -> str:
        return f"tv(beta={self.beta:g})"

    def extra_repr(self) -> str:
        return f"beta={self.beta:g}, normalize={self.normalize}, eps={self.eps:g}, boundary={self.boundary!r}, scale={self.scale:g}"
