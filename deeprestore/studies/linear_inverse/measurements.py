"""One layer's linear inverses, measured: how far each is from a convolution, and how well it
reconstructs held-out patches (the thesis's §1.1.1 question, Harder 2017).

From ``N`` training patches ``x`` (``N×n``) and their features ``f = φ(W x + b)`` the second moments
``C = Cov(x, f)`` and ``R = Cov(f) + I/λ`` give, for each relative noise level ``η`` (``1/λ = η`` times
the mean feature variance; held-out features get that noise):

* ``mmse``: ``C R⁻¹``, the best linear inverse (for a linear layer, ``φ = id``, the thesis's eq. 2 with
  the patches' covariance as ``Σ``);
* ``eq2``: eq. 2 through ``W`` with the measured ``Σ``, blind to ``φ`` (nonlinear layers only);
* ``eq2-stationary``: eq. 2 with ``Σ`` replaced by its nearest stationary covariance (its eigenvalues
  clipped at 1e-6 of the largest so it stays positive definite);
* ``mmse→conv``: the nearest transposed convolution (any kernel) to ``mmse``, its Frobenius projection;
* ``pinv``: the pseudo-inverse ``W⁺`` (blind to ``φ`` and the noise);
* ``conv r``: the best transposed convolution of the layer's stride with a ``(2r+1)²`` kernel,
  from the same moments as ``mmse`` (:func:`~deeprestore.linear_inverse.convolutional_inverse`);
* ``conv r interior``: the same fitted to the interior pixels only (largest ``r``), the test of whether
  the exact inverse is a convolution away from the border.

Each inverse reconstructs ``x̂ = μ + M (f − f̄)`` (``μ``, ``f̄``: training means). Reported: the
distance from a convolution of any kernel (whole matrix and interior) and of the largest fitted kernel,
and the error ``‖x − x̂‖² / ‖x − μ‖²`` on held-out patches (whole patch and interior pixels).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from deeprestore.linear_inverse import (
    ConvolutionGrid,
    convolution_distance,
    convolution_projection,
    convolutional_inverse,
    gaussian_moments,
    interior_grid,
    layer_matrix,
    linear_mmse_inverse,
    pseudo_inverse,
)
from deeprestore.studies.linear_inverse.layer_cases import LinearLayer

__all__ = ["MEASUREMENT_COLUMNS", "LayerInverses", "layer_inverses", "measure_inverses", "stationary_covariance"]

MEASUREMENT_COLUMNS = ("noise", "inverse", "distance", "interior_distance", "kernel_distance", "error", "interior_error")


@dataclass
class LayerInverses:
    """The inverses of one layer at one noise level (name → ``n×m`` matrix) and what they need."""

    noise: float
    inverses: dict[str, Tensor]
    noise_std: float


def _covariance(a: Tensor, b: Tensor) -> Tensor:
    return (a - a.mean(0)).T @ (b - b.mean(0)) / (a.shape[0] - 1)


def stationary_covariance(covariance: Tensor, image: tuple[int, int, int]) -> Tensor:
    """The nearest stationary (multi-channel block-Toeplitz) covariance over ``image`` ``(C, H, W)``,
    its eigenvalues clipped at 1e-6 of the largest (so eq. 2 stays defined)."""
    projected = convolution_projection(covariance, ConvolutionGrid(image, image, 1))
    values, vectors = torch.linalg.eigh((projected + projected.T) / 2)
    values = values.clamp_min(1e-6 * float(values.max()))
    return (vectors * values) @ vectors.T


def layer_inverses(
    layer: LinearLayer, train: Tensor, relative_noise: Sequence[float], radii: Sequence[int], border: int = 0
) -> tuple[Tensor, Tensor, list[LayerInverses]]:
    """The layer's matrix ``W``, its training features, and every inverse at every noise level.

    Args:
        layer: the layer (:func:`~deeprestore.studies.linear_inverse.layer_cases.build_layer`).
        train: training patches ``N×C×H×W`` (float64).
        relative_noise: relative noise levels ``η > 0``.
        radii: kernel radii of the convolutional inverses.
        border: feature positions off each edge for the interior fit (0: none).

    Returns:
        ``(W, features N×m, [LayerInverses per η])``.
    """
    grid = layer.grid
    w = layer_matrix(layer.linear, grid.image)
    x = train.reshape(len(train), -1)
    f = layer.features(train)
    sigma = _covariance(x, x)
    cross, moment = _covariance(x, f), _covariance(f, f)
    mean_variance = float(moment.diagonal().mean())
    pinv = pseudo_inverse(w)
    stationary = stationary_covariance(sigma, grid.image)
    eye = torch.eye(grid.feature_size, dtype=torch.float64)
    pixels = grid.image[1] * grid.image[2]
    interior = None
    if border:
        columns = interior_grid(grid, border)[2]
        interior = columns[columns < pixels]  # the interior positions (those of the first channel)
    found = []
    for eta in relative_noise:
        noise_variance = eta * mean_variance
        noisy = moment + noise_variance * eye
        mmse = linear_mmse_inverse(cross, noisy)
        inverses = {"mmse": mmse, "mmse→conv": convolution_projection(mmse.T, grid).T}
        if layer.nonlinearity != "none":
            inverses["eq2"] = linear_mmse_inverse(*gaussian_moments(w, sigma, 1 / noise_variance))
        inverses["eq2-stationary"] = linear_mmse_inverse(*gaussian_moments(w, stationary, 1 / noise_variance))
        inverses["pinv"] = pinv
        for r in radii:
            inverses[f"conv r={r}"] = convolutional_inverse(cross, noisy, grid, r)
        if interior is not None:
            inverses[f"conv r={max(radii)} interior"] = convolutional_inverse(cross, noisy, grid, max(radii), fit_positions=interior)
        found.append(LayerInverses(eta, inverses, noise_variance**0.5))
    return w, f, found


def measure_inverses(
    layer: LinearLayer,
    train: Tensor,
    train_features: Tensor,
    test: Tensor,
    found: LayerInverses,
    border: int,
    radius: int,
    generator: torch.Generator,
    reconstructors: Mapping[str, Callable[[Tensor], Tensor]] | None = None,
) -> list[dict]:
    """One row per inverse (:data:`MEASUREMENT_COLUMNS`) on held-out patches ``test`` (``N×C×H×W``), and one
    per other reconstruction (noisy features ``N×m`` → patches ``N×n``; e.g. a trained module), without distances."""
    grid = layer.grid
    x = test.reshape(len(test), -1)
    mu, f_mean = train.reshape(len(train), -1).mean(0), train_features.mean(0)
    f = layer.features(test)
    f = f + found.noise_std * torch.randn(f.shape, generator=generator, dtype=f.dtype)
    inner_pixels = interior_grid(grid, border)[2] if border else torch.arange(grid.image_size)
    spread = (x - mu).square()

    def errors(estimate: Tensor) -> dict[str, float]:
        residual = (x - estimate).square()
        return {
            "error": float(residual.sum() / spread.sum()),
            "interior_error": float(residual[:, inner_pixels].sum() / spread[:, inner_pixels].sum()),
        }

    rows = []
    for name, inverse in found.inverses.items():
        distances = {
            "distance": convolution_distance(inverse.T, grid),
            "interior_distance": convolution_distance(inverse.T, grid, border=border) if border else None,
            "kernel_distance": convolution_distance(inverse.T, grid, radius=radius),
        }
        rows.append({"noise": found.noise, "inverse": name, **distances, **errors(mu + (f - f_mean) @ inverse.T)})
    for name, reconstruct in (reconstructors or {}).items():
        rows.append(
            {
                "noise": found.noise,
                "inverse": name,
                "distance": None,
                "interior_distance": None,
                "kernel_distance": None,
                **errors(reconstruct(f)),
            }
        )
    return rows
