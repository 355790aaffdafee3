"""Evaluation: per-image metrics, error visualisations and comparison figures.

Images are float tensors N×C×H×W (normally C = 3) with values in ``[0, 1]``.

Metrics (one value per image, shape ``(N,)``):
    :func:`mse`, :func:`psnr`, :func:`ssim`, :func:`image_metrics`,
    :func:`feature_error` (Mahendran & Vedaldi 2015).
Difference images (Harder 2017, figs. 6-7):
    :func:`signed_difference_image`, :func:`absolute_difference_image`.
Figures:
    :func:`comparison_grid`, :func:`save_png`, :func:`comparison_figure`,
    :func:`save_figure`, :func:`atomic_write`.
"""

from deeprestore.atomic_io import atomic_write
from deeprestore.evaluation.difference_images import absolute_difference_image, signed_difference_image
from deeprestore.evaluation.figures import comparison_figure, save_figure
from deeprestore.evaluation.grids import PANELS, comparison_grid, save_png
from deeprestore.evaluation.metrics import feature_error, image_metrics, mse, psnr, ssim

__all__ = [
    "PANELS",
    "absolute_difference_image",
    "atomic_write",
    "comparison_figure",
    "comparison_grid",
    "feature_error",
    "image_metrics",
    "mse",
    "psnr",
    "save_figure",
    "save_png",
    "signed_difference_image",
    "ssim",
]
