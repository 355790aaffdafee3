"""DeePSiM's losses (Dosovitskiy & Brox, NeurIPS 2016, "Generating images with perceptual similarity
metrics based on deep networks", eqs. 2–5), per sample, in the paper's units.

The paper sums squared errors over a sample's elements, with pixels in 0–255, and weights the
terms λ_feat = 0.01 (AlexNet's conv5 as the comparator; the weight depends on the comparator),
λ_adv = 100 and λ_img = 2·10⁻⁶ (§3, "training details"). :func:`pixel_loss` keeps those units, so
λ_img and λ_adv carry over as they are; λ_feat has to be set per comparator, since a comparator's
features have units of their own.

    L_img   = Σ ‖255 (x̂ − x)‖²                      (eq. 5)
    L_feat  = Σ ‖C(x̂) − C(x)‖²                      (eq. 2)
    L_adv   = − log D(x̂)                            (eq. 4)
    L_discr = − log D(x) − log(1 − D(x̂))            (eq. 3)

with ``D = σ(logit)``, so ``−log D = softplus(−logit)`` and ``−log(1 − D) = softplus(logit)``.
"""

from __future__ import annotations

from torch import Tensor
from torch.nn.functional import softplus

from deeprestore.precision import compute_dtype

__all__ = ["PAPER_WEIGHTS", "discriminator_loss", "generator_adversarial_loss", "pixel_loss", "summed_squared_error"]

#: The paper's weights (§3): λ_feat (AlexNet conv5 comparator), λ_adv, λ_img.
PAPER_WEIGHTS: dict[str, float] = {"feature": 0.01, "adversarial": 100.0, "pixel": 2e-6}


def summed_squared_error(x: Tensor, y: Tensor) -> Tensor:
    """``Σ (x − y)²`` over every dimension but the first: ``N×…`` → ``(N,)``, in float32 or wider."""
    return (x.to(compute_dtype(x)) - y.to(compute_dtype(x))).square().flatten(1).sum(dim=1)


def pixel_loss(reconstructions: Tensor, images: Tensor) -> Tensor:
    """``L_img`` per sample, ``[0, 1]`` images ``N×3×H×W`` scored in the paper's 0–255 units → ``(N,)``."""
    return summed_squared_error(reconstructions, images) * 255.0**2


def generator_adversarial_loss(fake_logits: Tensor) -> Tensor:
    """``L_adv = −log D(x̂)`` per sample (the non-saturating generator loss) → ``(N,)``."""
    return softplus(-fake_logits.to(compute_dtype(fake_logits)))


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """``L_discr = −log D(x) − log(1 − D(x̂))`` per sample → ``(N,)``."""
    return softplus(-real_logits.to(compute_dtype(real_logits))) + softplus(fake_logits.to(compute_dtype(fake_logits)))
