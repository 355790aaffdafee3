"""DeePSiM's losses against their formulas, written out independently in float64."""

from __future__ import annotations

import torch

from deeprestore.inverters.perceptual_losses import (
    PAPER_WEIGHTS,
    discriminator_loss,
    generator_adversarial_loss,
    pixel_loss,
    summed_squared_error,
)


def test_logistic_losses_are_the_papers_log_probabilities():
    real, fake = torch.tensor([-3.0, 0.0, 2.5], dtype=torch.float64), torch.tensor([1.0, -0.5, 12.0], dtype=torch.float64)
    d_real, d_fake = 1 / (1 + torch.exp(-real)), 1 / (1 + torch.exp(-fake))
    torch.testing.assert_close(discriminator_loss(real, fake), -torch.log(d_real) - torch.log1p(-d_fake))
    torch.testing.assert_close(generator_adversarial_loss(fake), -torch.log(d_fake))


def test_pixel_loss_sums_squared_errors_in_0_255_units():
    x, y = torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)
    x[0, 1, 2, 3] = 1 / 255  # one grey level
    x[1] = 2 / 255  # two grey levels everywhere: 48 × 4
    torch.testing.assert_close(pixel_loss(x, y), torch.tensor([1.0, 192.0]))
    assert summed_squared_error(x.bfloat16(), y.bfloat16()).dtype == torch.float32


def test_paper_weights():
    assert PAPER_WEIGHTS == {"feature": 0.01, "adversarial": 100.0, "pixel": 2e-6}
