"""The ground floor of results: per-image metrics, difference images, grids, figures, tables.

Images are float tensors N×C×H×W (normally C = 3) with values in ``[0, 1]``. This package knows
no method: it imports nothing of :mod:`deeprestore.inversion`, ``inverters``, ``priors``,
``generative`` or ``studies`` (tested), so every floor above may use it.

Metrics (one value per image, shape ``(N,)``; :mod:`~deeprestore.metrics.scores`):
    :func:`mse`, :func:`psnr`, :func:`ssim`, :func:`image_metrics`,
    :func:`feature_error` (Mahendran & Vedaldi 2015), :func:`high_frequency_ratio` (sharpness;
    :mod:`~deeprestore.metrics.sharpness`).
Perceptual distances (the user's backbones; :mod:`~deeprestore.metrics.perceptual`):
    :func:`perceptual_metric` (LPIPS, Zhang et al. 2018; DISTS, Ding et al. 2020),
    :data:`PERCEPTUAL_METRICS`, :func:`missing_weights`, :func:`require_weights`.
Difference images (Harder 2017, figs. 6-7):
    :func:`signed_difference_image`, :func:`absolute_difference_image`.
Figures and files:
    :func:`comparison_grid`, :func:`save_png`, :func:`comparison_figure`, :func:`layer_sweep_figure`,
    :func:`save_figure` (atomic PNG writes).
Tables:
    :func:`markdown_table`, :func:`mean_std`.
"""

from deeprestore.metrics.difference_images import absolute_difference_image, signed_difference_image
from deeprestore.metrics.figures import comparison_figure, image_rows_figure, layer_sweep_figure, save_figure
from deeprestore.metrics.grids import PANELS, comparison_grid, save_png
from deeprestore.metrics.perceptual import (
    PERCEPTUAL_METRICS,
    PerceptualDistance,
    backbone_file,
    missing_weights,
    perceptual_column,
    perceptual_metric,
    require_weights,
)
from deeprestore.metrics.scores import SSIM_WINDOW, feature_error, image_metrics, mse, psnr, ssim
from deeprestore.metrics.sharpness import HIGH_FREQUENCY_CUTOFF, high_frequency_energy, high_frequency_ratio
from deeprestore.metrics.tables import markdown_table, mean_std

__all__ = [
    "HIGH_FREQUENCY_CUTOFF",
    "PANELS",
    "PERCEPTUAL_METRICS",
    "PerceptualDistance",
    "SSIM_WINDOW",
    "absolute_difference_image",
    "backbone_file",
    "comparison_figure",
    "image_rows_figure",
    "comparison_grid",
    "feature_error",
    "high_frequency_energy",
    "high_frequency_ratio",
    "image_metrics",
    "layer_sweep_figure",
    "markdown_table",
    "mean_std",
    "missing_weights",
    "mse",
    "perceptual_column",
    "perceptual_metric",
    "psnr",
    "require_weights",
    "save_figure",
    "save_png",
    "signed_difference_image",
    "ssim",
]
