"""The α-norm prior of Mahendran & Vedaldi (CVPR 2015, eq. 4 of the MSc thesis)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch import Tensor

from deeprestore.precision import compute_dtype
from deeprestore.priors._checks import check_image_batch
from deeprestore.priors.base import ImagePrior
from deeprestore.priors.units import IMAGENET_MEAN_255, B, mean_colour, to_mv_units

__all__ = ["AlphaNorm"]

Center = Literal["none", "channel", "image"]


class AlphaNorm(ImagePrior):
    r"""α-norm energy ``R_α(x) = ‖x − x̄‖_α^α = Σ_{k,i,j} |x_kij − x̄|^α``, one value per image.

    M&V 2015 (the α-norm regulariser): ``R_α(x) = ‖x‖_α^α`` with ``x`` the vectorised, mean-subtracted
    image; large α (6 in their CNN experiments) keeps the range of the image bounded. The norm is
    taken **element-wise over all channels and pixels** (no grouping of a pixel's colours: that
    grouped form is the bounded-range prior of M&V 2016, :class:`BoundedRange`), exactly as the
    authors' 2015 code does (``deep-goggle/core/invert_nn.m``: ``sum(x(:).^beta)``).

    What ``x̄`` is (``center``):

    * ``"none"`` (default, as in M&V): no per-image centring. The image is already
      mean-subtracted with the fixed **dataset** mean colour by the M&V units conversion
      (``normalize=True``), which is what "mean-subtracted" means in the paper (the CNN input
      "is assumed to have null mean", IJCV 2016 footnote 2) and in the code.
    * ``"channel"``: subtract each image's own per-channel spatial mean (H×W) first.
    * ``"image"``: subtract each image's own mean over all channels and pixels first.

    Normalisation (``normalize=True``, default): the image is converted to M&V units
    (:func:`~deeprestore.priors.units.to_mv_units`: 0–255 scale, ``mean`` subtracted) and the sum
    is divided by ``H W B^α``. That is M&V 2016's normalisation of their (pixel-grouped) α-term
    (code: ``Σ (·)/(H W)`` times ``λ = (1/B)^α``), applied here to the element-wise norm so the
    two priors are on comparable scales; M&V 2015 instead divided the image by a global ``σ`` and
    used a fixed ``λ_α`` (see ``docs/mv_reference.md``). With ``normalize=False`` the formula is
    evaluated on the tensor as given (the caller's units), without any scaling.

    Args:
        alpha: the exponent α ≥ 1 (M&V: 6).
        normalize: convert to M&V units and divide by ``H W scale^α``.
        center: see above.
        mean: dataset mean colour in 0–255 units (one value, or one per channel), used when
            ``normalize=True``.
        scale: the ``B`` of the normalisation (M&V: 80).

    Shape:
        input ``N×C×H×W`` floating point (library units: [0, 1]) → output ``(N,)``.
    """

    def __init__(
        self,
        alpha: float = 6.0,
        normalize: bool = True,
        center: Center = "none",
        mean: float | Sequence[float] = IMAGENET_MEAN_255,
        scale: float = B,
    ) -> None:
        super().__init__()
        if not alpha >= 1.0:
            raise ValueError(f"alpha must be >= 1 (the gradient is undefined at 0 otherwise), got {alpha}")
        if center not in ("none", "channel", "image"):
            raise ValueError(f"center must be 'none', 'channel' or 'image', got {center!r}")
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        self.alpha = float(alpha)
        self.normalize = bool(normalize)
        self.center: Center = center
        self.mean = mean_colour(mean)
        self.scale = float(scale)

    def forward(self, images: Tensor) -> Tensor:
        """``N×C×H×W`` → ``(N,)`` α-norm energies (see the class docstring)."""
        x = check_image_batch(images)
        x = x.to(compute_dtype(x))
        if self.normalize:
            x = to_mv_units(x, self.mean)
        if self.center == "channel":
            x = x - x.mean(dim=(2, 3), keepdim=True)
        elif self.center == "image":
            x = x - x.mean(dim=(1, 2, 3), keepdim=True)
        if self.normalize:
            # Σ |x/B|^α / (H W) == Σ |x|^α / (H W B^α), computed without 255^α-sized intermediates.
            x = x / self.scale
        energy = x.abs().pow(self.alpha).sum(dim=(1, 2, 3))
        if self.normalize:
            energy = energy / (x.shape[2] * x.shape[3])
        return energy

    @property
    def name(self) -> str:
        return f"alpha_norm(alpha={self.alpha:g})"

    def extra_repr(self) -> str:
        return f"alpha={self.alpha:g}, normalize={self.normalize}, center={self.center!r}, scale={self.scale:g}"
