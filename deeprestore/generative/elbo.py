"""The negative ELBO of a VAE with a Gaussian likelihood of fixed standard deviation (Kingma & Welling
2014, eq. 10), shared by the image VAE and the feature-map VAE::

    ‖x − D(z)‖² / (2 s²)  +  β · KL(N(μ, diag σ²) ‖ N(0, I))
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["gaussian_kl", "negative_elbo"]


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """``KL(N(μ, diag σ²) ‖ N(0, I))`` per item (``N``) of ``N×…`` means and log-variances."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).flatten(1).sum(1)


def negative_elbo(squared_error: Tensor, kl: Tensor, likelihood_std: float, beta: float) -> Tensor:
    """The batch's mean ``‖x − D(z)‖² / (2 s²) + β KL`` from per-item squared errors and KLs (``N`` each)."""
    return (squared_error / (2 * likelihood_std**2) + beta * kl).mean()
