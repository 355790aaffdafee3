"""The sampled density's terms from real (tiny, untrained) checkpoints: each score is minus the
gradient of its energy, a feature-map prior's energy is the field energy of the network's maps, a DAE
has a score and no energy, and checkpoints that do not fit are refused."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from deeprestore.nets import load_network
from deeprestore.priors import load_dae_prior, load_patch_prior
from deeprestore.priors.patches import to_grey
from deeprestore.sampling import (
    PriorTerm,
    checkpoint_term,
    class_term,
    energy_score,
    joint_energy,
    joint_score,
    langevin,
    through_generator,
)
from tests.tiny_checkpoints import dae_prior, inverter, patch_prior


@pytest.fixture(scope="module")
def net():
    return load_network("efficientnet_lite0")


def _directional_check(term, x: torch.Tensor, h: float = 1e-3) -> None:
    """The score's component along a direction equals minus the energy's finite difference."""
    direction = torch.randn_like(x)
    slope = (term.energy(x + h * direction) - term.energy(x - h * direction)) / (2 * h)
    along = (term.score(x) * direction).flatten(1).sum(1)
    assert torch.allclose(along, -slope, rtol=2e-2, atol=1e-3 * float(slope.abs().max()))


def test_a_feature_map_patch_prior_is_the_field_energy_of_the_networks_maps(net, tmp_path):
    path = patch_prior(tmp_path / "ica_block1.ckpt", net="efficientnet_lite0", layer="block1")
    term = checkpoint_term(path, 0.5, net)
    x = torch.rand(2, 3, 32, 32)
    energy = load_patch_prior(path).energy
    expected = 0.5 * energy.field_energy(net.features(x, "block1")["block1"])
    assert term.name == "ica-block1" and torch.allclose(term.energy(x), expected, rtol=1e-5)
    assert torch.allclose(term.unweighted(x), expected / 0.5, rtol=1e-5)
    leaf = x.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(0.5 * energy.field_energy(net.features(leaf, "block1")["block1"]).sum(), leaf)
    assert torch.allclose(term.score(x), -gradient, rtol=1e-4, atol=1e-6)


def test_a_grey_image_prior_sees_the_grey_image(tmp_path):
    path = patch_prior(tmp_path / "foe_grey.ckpt", grey=True)
    term = checkpoint_term(path, 2.0, None)
    x = torch.rand(2, 3, 16, 16)
    assert torch.allclose(term.energy(x), 2.0 * load_patch_prior(path).energy.field_energy(to_grey(x)), rtol=1e-5)
    _directional_check(term, x)


def test_a_dae_has_a_score_and_no_energy(tmp_path):
    path = dae_prior(tmp_path / "dae.ckpt", residual=True)
    term = checkpoint_term(path, 3.0, None)
    module = load_dae_prior(path)
    x = torch.rand(2, 3, 16, 16)
    expected = 3.0 * (module.dae(x) - x) / float(module.noise_scale) ** 2
    expected = expected.detach()
    assert term.energy is None and float(expected.abs().max()) > 0 and torch.allclose(term.score(x), expected, atol=1e-5)
    assert joint_energy([term]) is None


def test_a_class_term_is_the_weighted_log_probability(net):
    term = class_term(net, 207, 2.0)
    x = torch.rand(2, 3, 32, 32)
    assert torch.allclose(term.energy(x), -2.0 * F.log_softmax(net(x), 1)[:, 207], rtol=1e-5)
    exact = load_network("efficientnet_lite0").double()  # float64, so that finite differences are exact enough
    _directional_check(class_term(exact, 207, 2.0), x.double(), h=1e-6)  # ReLU6's kinks need a small step
    both = [term, class_term(net, 1, 1.0)]
    assert torch.allclose(joint_score(both)(x), both[0].score(x) + both[1].score(x), atol=1e-6)
    assert torch.allclose(joint_energy(both)(x), both[0].energy(x) + both[1].energy(x))


def test_checkpoints_that_do_not_fit_are_refused(net, tmp_path):
    with pytest.raises(ValueError, match="not a PatchPriorModule or DAEPriorModule"):
        checkpoint_term(inverter(tmp_path / "inv.ckpt"), 1.0, net)
    path = patch_prior(tmp_path / "ica_block1.ckpt", net="efficientnet_lite0", layer="block1")
    with pytest.raises(ValueError, match="models efficientnet_lite0's block1 maps, the study samples through efficientnet_lite1"):
        checkpoint_term(path, 1.0, load_network("efficientnet_lite1"))


def test_a_term_through_a_generator_is_the_pulled_back_energy(net):
    torch.manual_seed(3)
    generator = torch.nn.Sequential(
        torch.nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1), torch.nn.Sigmoid()
    )  # code 4×8×8 → image 3×16×16
    term = through_generator(class_term(net, 207, 2.0), generator)
    h = torch.randn(2, 4, 8, 8)
    assert torch.allclose(term.energy(h), -2.0 * F.log_softmax(net(generator(h)), 1)[:, 207], rtol=1e-5)
    assert torch.allclose(term.score(h), energy_score(term.energy)(h), rtol=1e-4, atol=1e-7)


def test_langevin_through_a_linear_generator_samples_the_pulled_back_gaussian():
    # x = A h with an image prior N(0, I) and a code prior N(0, I): the code's law is N(0, (I + AᵀA)⁻¹).
    g = torch.Generator().manual_seed(4)
    a = torch.randn(3, 2, generator=g, dtype=torch.float64)
    image = PriorTerm("image", 1.0, lambda x: -x, lambda x: 0.5 * (x**2).sum(1), None)
    code = PriorTerm("code", 1.0, lambda h: -h, lambda h: 0.5 * (h**2).sum(1), None)
    terms = [code, through_generator(image, lambda h: h @ a.T)]
    result = langevin(joint_score(terms), torch.zeros(4000, 2, dtype=torch.float64), [0.02] * 400, energy=joint_energy(terms), generator=g)
    expected = torch.linalg.inv(torch.eye(2, dtype=torch.float64) + a.T @ a)
    assert torch.allclose(torch.cov(result.samples.T), expected, rtol=0.08, atol=0.01)
