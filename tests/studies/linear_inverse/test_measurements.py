"""The study's inverses against known answers: eq. 2 for a linear layer, W⁺ exact for an injective one,
the stationary covariance, and the nonlinearity's extra row."""

from __future__ import annotations

import torch

from deeprestore.linear_inverse import ConvolutionGrid, convolution_distance, layer_matrix, map_inverse
from deeprestore.studies.linear_inverse.layer_cases import LayerCase, build_layer
from deeprestore.studies.linear_inverse.measurements import layer_inverses, measure_inverses, stationary_covariance


def _smooth_patches(count: int, seed: int) -> torch.Tensor:
    """Correlated random patches 3×6×6 (a blurred white noise): a covariance far from the identity."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(count, 3, 10, 10, generator=g, dtype=torch.float64)
    return torch.nn.functional.avg_pool2d(noise, 5, 1)[:, :, :6, :6] + 0.05 * torch.randn(count, 3, 6, 6, generator=g, dtype=torch.float64)


def test_for_a_linear_layer_the_mmse_inverse_is_eq2_with_the_patches_covariance():
    layer = build_layer(LayerCase(kernel=3, stride=2, channels=6, size=6))
    train = _smooth_patches(800, 0)
    w, _, (found,) = layer_inverses(layer, train, [1e-2], [1])
    x = train.reshape(800, -1)
    sigma = torch.cov(x.T)
    noise_variance = found.noise_std**2
    assert torch.allclose(found.inverses["mmse"], map_inverse(w, sigma, 1 / noise_variance), atol=1e-8)
    assert set(found.inverses) == {"mmse", "mmse→conv", "eq2-stationary", "pinv", "conv r=1"}
    assert convolution_distance(found.inverses["mmse→conv"].T, layer.grid) < 1e-12
    assert torch.allclose(w, layer_matrix(layer.linear, (3, 6, 6)))


def test_an_injective_layers_pseudo_inverse_reconstructs_exactly_and_fitted_convolutions_are_convolutions():
    layer = build_layer(LayerCase(kernel=3, stride=1, channels=12, size=6))
    train, test = _smooth_patches(600, 1), _smooth_patches(50, 2)
    _, features, (found,) = layer_inverses(layer, train, [1e-12], [1, 2], border=1)
    rows = {r["inverse"]: r for r in measure_inverses(layer, train, features, test, found, 1, 2, torch.Generator().manual_seed(0))}
    assert rows["pinv"]["error"] < 1e-8 and rows["mmse"]["error"] < 1e-6
    assert rows["conv r=1"]["distance"] < 1e-10 and rows["conv r=2"]["kernel_distance"] < 1e-10
    assert rows["conv r=1"]["error"] >= rows["conv r=2"]["error"] - 1e-9  # a larger kernel fits at least as well …
    assert rows["conv r=2 interior"]["interior_error"] <= rows["conv r=2"]["interior_error"] + 1e-9  # … and one fitted there, the interior
    assert rows["pinv"]["distance"] > 0.01  # … and W⁺ of a zero-padded convolution is not one


def test_a_nonlinear_layer_adds_the_inverse_blind_to_the_nonlinearity():
    layer = build_layer(LayerCase(kernel=3, stride=1, channels=6, size=6, nonlinearity="relu"))
    _, _, (found,) = layer_inverses(layer, _smooth_patches(400, 3), [1e-2], [1])
    assert "eq2" in found.inverses and not torch.allclose(found.inverses["eq2"], found.inverses["mmse"])


def test_the_stationary_covariance_is_stationary_symmetric_and_positive_definite():
    x = _smooth_patches(300, 4).reshape(300, -1)
    stationary = stationary_covariance(torch.cov(x.T), (3, 6, 6))
    assert torch.allclose(stationary, stationary.T)
    assert float(torch.linalg.eigvalsh(stationary).min()) > 0
    assert convolution_distance(stationary, ConvolutionGrid((3, 6, 6), (3, 6, 6))) < 0.05  # stationary up to the clipping
