"""``thesis-adam`` follows the thesis's §4.3 text: 5,000 iterations at 0.004 for a stride-4 layer, the
stepped 10,000-iteration schedule deeper with the learned prior's weight ten times larger, C = 1 and
no prior of its own."""

from __future__ import annotations

import pytest

from deeprestore.inversion import get_preset
from deeprestore.inversion.presets.thesis_adam import thesis_lr
from deeprestore.nets import load_network


@pytest.mark.parametrize(
    ("iteration", "lr"),
    [(0, 0.01), (999, 0.01), (1000, 4e-3), (1199, 4e-3), (1200, 1e-3), (3000, 4e-4), (6000, 1e-4), (8999, 1e-4), (9999, 4e-5)],
)
def test_the_stepped_schedule_is_the_theses(iteration, lr):
    assert thesis_lr(iteration) == lr


def test_the_phases_and_weights_follow_the_stride():
    preset, net = get_preset("thesis-adam"), load_network("efficientnet_lite0", weights="random")
    (shallow,), (deep,) = preset.phases(4.0), preset.phases(16.0)
    assert (shallow.iterations, shallow.lr_at(4999), shallow.prior_weight_at(0)) == (5000, 0.004, 1.0)
    assert (deep.iterations, deep.lr_at(1000), deep.prior_weight_at(0)) == (10000, 4e-3, 10.0)
    assert preset.priors(16.0, net) == [] and preset.data_weight(4.0, net.name) == 1.0 and preset.optimizer == "adam"
