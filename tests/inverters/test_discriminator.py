"""The feature-conditioned discriminator: shapes at any size, dropout from the generator given."""

from __future__ import annotations

import pytest
import torch

from deeprestore.inverters import FeatureConditionedDiscriminator


@pytest.mark.parametrize("feature_shape", [(24, 16, 16), (1000,)])
@pytest.mark.parametrize("size", [64, 96])
def test_one_logit_per_image_at_any_size(feature_shape, size):
    d = FeatureConditionedDiscriminator(feature_shape, width=0.25)
    features = torch.randn(3, *feature_shape) if len(feature_shape) == 1 else torch.randn(3, feature_shape[0], size // 8, size // 8)
    assert d(torch.randn(3, 3, size, size), features).shape == (3,)


def test_dropout_masks_come_from_the_generator_and_vanish_in_eval():
    torch.manual_seed(0)
    d = FeatureConditionedDiscriminator((8, 4, 4), width=0.25)
    images, features = torch.randn(4, 3, 32, 32), torch.randn(4, 8, 4, 4)
    first = d(images, features, torch.Generator().manual_seed(5))
    torch.manual_seed(123)  # the global generator plays no part
    assert torch.equal(first, d(images, features, torch.Generator().manual_seed(5)))
    assert not torch.equal(first, d(images, features, torch.Generator().manual_seed(6)))
    d.eval()
    assert torch.equal(d(images, features, torch.Generator().manual_seed(5)), d(images, features, torch.Generator().manual_seed(6)))


def test_the_features_units_do_not_matter():
    d = FeatureConditionedDiscriminator((8, 4, 4), width=0.25).eval()
    images, features = torch.randn(2, 3, 32, 32), torch.randn(2, 8, 4, 4)
    torch.testing.assert_close(d(images, features), d(images, 1000 * features))


def test_bad_dropout_is_refused():
    with pytest.raises(ValueError, match="dropout must be in"):
        FeatureConditionedDiscriminator((8,), dropout=1.0)
