"""Sampling images from learned priors by Langevin dynamics (the thesis's §5.2 "highest goal"):
unadjusted and Metropolis-adjusted chains (:mod:`.langevin`) over scores built from energies, a
denoising autoencoder's residual, and priors at several feature maps pulled back through a network
(:mod:`.scores`), and the density's terms from the project's checkpoints (:mod:`.prior_terms`)."""

from deeprestore.sampling.langevin import ChainResult, annealed_langevin, geometric_steps, langevin
from deeprestore.sampling.prior_terms import (
    PriorTerm,
    checkpoint_term,
    class_term,
    joint_energy,
    joint_score,
    prior_layer,
    through_generator,
)
from deeprestore.sampling.scores import Score, dae_residual_score, energy_score, feature_map_score, weighted_score

__all__ = [
    "ChainResult",
    "PriorTerm",
    "annealed_langevin",
    "checkpoint_term",
    "class_term",
    "joint_energy",
    "joint_score",
    "prior_layer",
    "Score",
    "dae_residual_score",
    "energy_score",
    "feature_map_score",
    "geometric_steps",
    "langevin",
    "through_generator",
    "weighted_score",
]
