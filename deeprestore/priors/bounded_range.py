"""The bounded-range prior of Mahendran & Vedaldi (IJCV 2016; MSc thesis eq. 6)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from deeprestore.precision import compute_dtype
from deeprestore.priors._checks import check_image_batch
from deeprestore.priors.base import ImagePrior
from deeprestore.priors.units import B_PLUS, IMAGENET_MEAN_255, B, from_mv_units, mean_colour, to_mv_units

__all__ = ["BoundedRange"]


class BoundedRange(ImagePrior):
    r"""Bounded range ``N_α(x) = Σ_ij (Σ_k x_ijk²)^{α/2}`` plus the hard bound ``‖x_ij‖ ≤ B₊``.

    M&V 2016 replace the element-wise α-norm of 2015 by a norm of each pixel's **colour vector**
    ``x_ij ∈ R³`` (so the penalty is isotropic in colour space), raised to α = 6 and summed over
    pixels, and add the hard constraint ``‖x_ij‖ ≤ B₊`` enforced by projection after each step.
    Authors' code: ``nnpreimage/layers/l2.m`` (``n = sum(x.^2, 3); e = sum(n(:).^(beta/2)) /
    numPixels``) and the "box constraint" in ``nnpreimage/core/nnpreimage.m``.

    Energy (``forward``): with ``normalize=True`` (default) the image is converted to M&V units
    (:func:`~deeprestore.priors.units.to_mv_units`: 0–255 scale minus the mean colour) and the
    sum is divided by ``H W B^α`` (``B = 80``; code: ``λ = (1/B)^α`` times ``Σ/(H W)``). With
    ``normalize=False`` the formula is evaluated on the tensor as given, without scaling.

    Projection (``project``) — always in M&V units, whatever ``normalize`` says: each pixel whose
    colour vector (around the mean colour) is longer than ``bound`` is shrunk radially onto the
    sphere of radius ``bound``; other pixels are returned bit-for-bit unchanged. The result is in
    the library's units. Consequences of the bound living in 0–255 mean-subtracted units, with the
    default mean colour (123.68, 116.78, 103.94) and ``B₊ = 160``:

    * a valid image (in [0, 1]) stays in [0, 1]: the mean colour lies inside the RGB cube and
      shrinking moves a pixel along the segment towards it (the cube is convex);
    * but saturated colours of a valid image are changed: black has norm ≈ 199 and white ≈ 243
      in M&V units, so the projection lifts black to ≈ (0.096, 0.090, 0.081) and lowers white;
    * an image outside [0, 1] can stay outside after projection, because the ball sticks out of
      the cube: per channel the feasible range is ``(m_k ± 160)/255``, i.e. R ∈ [−0.14, 1.11],
      G ∈ [−0.17, 1.09], B ∈ [−0.22, 1.04]. Clamp to [0, 1] separately if a displayable image
      is needed.

    Args:
        alpha: the exponent α ≥ 2 (M&V 2016: 6).
        bound: ``B₊``, the bound on each pixel's colour-vector norm in M&V units (M&V: 160).
        normalize: convert to M&V units and divide by ``H W scale^α`` in ``forward``.
        mean: mean colour in 0–255 units (one value, or one per channel).
        scale: the ``B`` of the normalisation (M&V: 80).

    Shape:
        ``forward``: ``N×C×H×W`` (library units) → ``(N,)``; ``project``: ``N×C×H×W`` →
        ``N×C×H×W``, same dtype and device.
    """

    def __init__(
        self,
        alpha: float = 6.0,
        bound: float = B_PLUS,
        normalize: bool = True,
        mean: float | Sequence[float] = IMAGENET_MEAN_255,
        scale: float = B,
    ) -> None:
        super().__init__()
        if not alpha >= 2.0:
            raise ValueError(f"alpha must be >= 2 (the gradient is undefined at 0 otherwise), got {alpha}")
        if not bound > 0:
            raise ValueError(f"bound must be > 0, got {bound}")
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        self.alpha = float(alpha)
        self.bound = float(bound)
        self.normalize = bool(normalize)
        self.mean = mean_colour(mean)
        self.scale = float(scale)

    def forward(self, images: Tensor) -> Tensor:
        """``N×C×H×W`` → ``(N,)`` bounded-range energies (see the class docstring)."""
        x = check_image_batch(images)
        x = x.to(compute_dtype(x))
        if self.normalize:
            x = to_mv_units(x, self.mean) / self.scale
        squared_norm = x.square().sum(dim=1)  # N×H×W
        energy = squared_norm.pow(self.alpha / 2.0).sum(dim=(1, 2))
        if self.normalize:
            energy = energy / (x.shape[2] * x.shape[3])
        return energy

    def pixel_norms(self, images: Tensor) -> Tensor:
        """Colour-vector norm of each pixel in M&V units: ``N×C×H×W`` → ``N×1×H×W``.

        Computed in float32 for fp16/bf16 input (float32/float64 input keeps its dtype).
        """
        x = check_image_batch(images)
        x = to_mv_units(x.to(compute_dtype(x)), self.mean)
        return x.square().sum(dim=1, keepdim=True).sqrt()

    def project(self, images: Tensor) -> Tensor:
        """Radially shrink every pixel with ``‖x_ij‖ > bound`` (M&V units) onto the bound.

        Args:
            images: ``N×C×H×W`` floating-point images in library units.

        Returns:
            ``N×C×H×W`` images in library units, same dtype and device; in-bound pixels are the
            input values unchanged. Idempotent up to floating-point rounding.
        """
        x = check_image_batch(images)
        x = to_mv_units(x.to(compute_dtype(x)), self.mean)  # fp16/bf16 are projected in float32
        norm = x.square().sum(dim=1, keepdim=True).sqrt()
        outside = norm > self.bound
        factor = self.bound / norm.clamp_min(torch.finfo(norm.dtype).tiny)
        shrunk = from_mv_units(x * factor, self.mean).to(images.dtype)
        return torch.where(outside, shrunk, images)

    @property
    def name(self) -> str:
        return f"bounded_range(alpha={self.alpha:g}, bound={self.bound:g})"

    def extra_repr(self) -> str:
        return f"alpha={self.alpha:g}, bound={self.bound:g}, normalize={self.normalize}, scale={self.scale:g}"
