"""The best convolutional inverse in closed form: against an independent least-squares solve, the exact
inverse where that is a convolution, and the order of the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from deeprestore.linear_inverse import (
    ConvolutionGrid,
    convolution_distance,
    convolution_key,
    convolution_projection,
    convolution_window,
    convolutional_inverse,
    gaussian_moments,
    layer_matrix,
    linear_mmse_inverse,
)


def _problem(grid: ConvolutionGrid, padding_mode: str = "zeros", seed: int = 0):
    torch.manual_seed(seed)
    conv = nn.Conv2d(grid.image[0], grid.features[0], 3, grid.stride, 1, padding_mode=padding_mode, bias=False).double()
    w = layer_matrix(conv, grid.image)
    a = torch.randn(grid.image_size, 2 * grid.image_size, dtype=torch.float64)
    sigma = a @ a.T / a.shape[1] + 0.1 * torch.eye(grid.image_size, dtype=torch.float64)
    return w, sigma


def _expected_error(m, cross, moment, sigma):
    return float(torch.trace(sigma) - 2 * torch.trace(m @ cross.T) + torch.trace(m @ moment @ m.T))


@pytest.mark.parametrize("fit_positions", [None, [5, 6, 9, 10]], ids=["all", "interior"])
def test_it_solves_the_least_squares_problem_an_independent_solver_gives(fit_positions):
    grid = ConvolutionGrid((2, 4, 4), (3, 2, 2), 2)
    w, sigma = _problem(grid)
    cross, moment = gaussian_moments(w, sigma, 10.0)
    positions = None if fit_positions is None else torch.tensor(fit_positions)
    fitted = convolutional_inverse(cross, moment, grid, radius=1, fit_positions=positions)
    # vec(M) = P θ with P the 0/1 matrix of the allowed keys; the error of the fitted rows D:
    # normal equations Pᵀ(D ⊗ R)P θ = Pᵀ vec(D C).
    key = convolution_key(grid)[0].T.numpy()
    window = convolution_window(grid, 1).T.numpy()
    rows = np.ones(16, bool) if fit_positions is None else np.isin(np.arange(16), fit_positions)
    rows = np.tile(rows, 2)  # both image channels
    used = np.unique(key[rows][window[rows]])
    p = np.stack([((key == k) & window).ravel() for k in used], axis=1).astype(float)
    big = np.kron(np.diag(rows.astype(float)), moment.numpy())
    theta = np.linalg.solve(p.T @ big @ p, p.T @ (cross.numpy() * rows[:, None]).ravel())
    assert np.allclose(fitted.numpy().ravel(), p @ theta, atol=1e-9)


def test_where_the_exact_inverse_is_a_convolution_it_is_found():
    grid = ConvolutionGrid((2, 6, 6), (3, 6, 6), 1, circular=True)
    w, sigma = _problem(grid, "circular")
    sigma = convolution_projection(sigma, ConvolutionGrid((2, 6, 6), (2, 6, 6), 1, circular=True))  # a stationary prior
    cross, moment = gaussian_moments(w, sigma, 100.0)
    exact = linear_mmse_inverse(cross, moment)
    assert convolution_distance(exact.T, grid) < 1e-9
    assert torch.allclose(convolutional_inverse(cross, moment, grid, radius=6), exact, atol=1e-8)


@pytest.mark.parametrize("stride", [1, 2])
def test_its_error_lies_between_the_exact_inverses_and_falls_with_the_kernel(stride):
    grid = ConvolutionGrid((2, 8, 8), (4, 8 // stride, 8 // stride), stride)
    w, sigma = _problem(grid, seed=stride)
    cross, moment = gaussian_moments(w, sigma, 30.0)
    exact = _expected_error(linear_mmse_inverse(cross, moment), cross, moment, sigma)
    errors = []
    for radius in (0, 1, 3, 8):
        fitted = convolutional_inverse(cross, moment, grid, radius)
        assert convolution_distance(fitted.T, grid) < 1e-10
        assert bool((fitted.T[~convolution_window(grid, radius)] == 0).all())
        errors.append(_expected_error(fitted, cross, moment, sigma))
    assert all(a >= b - 1e-9 for a, b in zip(errors, errors[1:]))
    assert errors[-1] >= exact - 1e-9 and errors[0] < float(torch.trace(sigma))


def test_moments_that_do_not_fit_the_grid_are_refused():
    with pytest.raises(ValueError, match="expected C of shape 32×12"):
        convolutional_inverse(torch.zeros(12, 32), torch.zeros(12, 12), ConvolutionGrid((2, 4, 4), (3, 2, 2), 2), 1)
