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
Inversion study (``python evaluate.py``; imported on first use, they need the nets and inverters):
    :func:`run_study`, :func:`find_inverter_checkpoints`, :class:`PresetMethod`,
    :class:`InverterMethod` (:mod:`~deeprestore.evaluation.inversion_study`) and
    :func:`write_report`, :func:`log_wandb` (:mod:`~deeprestore.evaluation.report`).
"""

import importlib
from typing import Any

from deeprestore.atomic_io import atomic_write
from deeprestore.evaluation.difference_images import absolute_difference_image, signed_difference_image
from deeprestore.evaluation.figures import comparison_figure, save_figure
from deeprestore.evaluation.grids import PANELS, comparison_grid, save_png
from deeprestore.evaluation.metrics import feature_error, image_metrics, mse, psnr, ssim

#: Exports loaded on first access: the study needs the nets, the inversion engine and the
#: inverters (which import this package), too much to load, or to risk a cycle, for the metrics.
_LAZY = {
    "InverterMethod": "deeprestore.evaluation.inversion_study",
    "PresetMethod": "deeprestore.evaluation.inversion_study",
    "find_inverter_checkpoints": "deeprestore.evaluation.inversion_study",
    "run_study": "deeprestore.evaluation.inversion_study",
    "log_wandb": "deeprestore.evaluation.report",
    "write_report": "deeprestore.evaluation.report",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "InverterMethod",
    "PANELS",
    "PresetMethod",
    "absolute_difference_image",
    "atomic_write",
    "comparison_figure",
    "comparison_grid",
    "feature_error",
    "find_inverter_checkpoints",
    "image_metrics",
    "log_wandb",
    "mse",
    "psnr",
    "run_study",
    "save_figure",
    "save_png",
    "signed_difference_image",
    "ssim",
    "write_report",
]
