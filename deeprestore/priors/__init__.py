"""Image priors: hand-crafted (Mahendran & Vedaldi, CVPR 2015; IJCV 2016) and learned (patch
energy models — over-complete ICA, Fields of Experts — trained by score matching).

Every prior is an :class:`ImagePrior` (``nn.Module``): ``prior(images) -> (N,)`` energies of an
``N×C×H×W`` batch of library images ([0, 1]), and ``prior.project(images)`` to call after each
optimisation step (identity except for :class:`BoundedRange`). With ``normalize=True`` (the
default) the energies are the normalised terms of M&V 2016's normalised objective (IJCV 2016)::

    E(x) = C/‖Φ0‖² ‖Φ(x) − Φ0‖²  +  N_α(x) / (H W B^α)  +  TV^β(x) / (H W V^β),   ‖x_ij‖ ≤ B₊

computed in M&V units (0–255 scale, mean colour subtracted; :mod:`deeprestore.priors.units`).
Sources, constants and what could not be confirmed: ``docs/mv_reference.md``.

Learned priors: :class:`PatchEnergy` (``log p = Σ αᵢ G(wᵢᵀ z)`` on whitened patches, field energy
as a convolution), :func:`score_matching_objective`, :class:`PatchPriorModule` (trained by
``python train.py --config configs/priors/…``), :func:`roth_foe` (Roth's published filters),
and denoising-autoencoder priors (:class:`DAEPriorModule`, :class:`DAEPrior`).

Network-given and newer priors: DeepInversion's batch-norm statistics prior
(:class:`BatchNormStatistics`, read from the network's own forward pass) and its image terms
(:class:`NeighbourDifferenceNorm`, :class:`ImageNorm`), and the ``[0, 1]`` clip (:class:`ValidRange`).
"""

from deeprestore.priors.alpha_norm import AlphaNorm
from deeprestore.priors.base import ImagePrior
from deeprestore.priors.batchnorm_statistics import BatchNormStatistics
from deeprestore.priors.bounded_range import BoundedRange
from deeprestore.priors.dae import DAEPrior, DenoisingAutoencoder
from deeprestore.priors.dae_module import DAEPriorModule, load_dae_prior
from deeprestore.priors.deepinversion_image import ImageNorm, NeighbourDifferenceNorm, ValidRange
from deeprestore.priors.patch_energy import PatchEnergy
from deeprestore.priors.patch_prior_module import PatchPriorModule, load_patch_prior
from deeprestore.priors.roth_foe import roth_foe
from deeprestore.priors.score_matching import score_matching_objective
from deeprestore.priors.total_variation import TotalVariation
from deeprestore.priors.units import (
    B_PLUS,
    IMAGENET_MEAN_255,
    MV_SCALE,
    B,
    V,
    from_mv_units,
    mean_tensor,
    to_mv_units,
)

__all__ = [
    "ImagePrior",
    "AlphaNorm",
    "TotalVariation",
    "BoundedRange",
    "BatchNormStatistics",
    "NeighbourDifferenceNorm",
    "ImageNorm",
    "ValidRange",
    "DAEPrior",
    "DAEPriorModule",
    "DenoisingAutoencoder",
    "load_dae_prior",
    "PatchEnergy",
    "PatchPriorModule",
    "load_patch_prior",
    "roth_foe",
    "score_matching_objective",
    "B",
    "B_PLUS",
    "V",
    "MV_SCALE",
    "IMAGENET_MEAN_255",
    "mean_tensor",
    "to_mv_units",
    "from_mv_units",
]
