"""Sampling images from learned priors by Langevin dynamics (the thesis's §5.2 "highest goal"):
unadjusted and Metropolis-adjusted chains (:mod:`.langevin`) over scores built from energies, a
denoising autoencoder's residual, and priors at several feature maps pulled back through a network
(:mod:`.scores`)."""

from deeprestore.sampling.langevin import ChainResult, geometric_steps, langevin
from deeprestore.sampling.scores import Score, dae_residual_score, energy_score, feature_map_score, weighted_score

__all__ = [
    "ChainResult",
    "Score",
    "dae_residual_score",
    "energy_score",
    "feature_map_score",
    "geometric_steps",
    "langevin",
    "weighted_score",
]
