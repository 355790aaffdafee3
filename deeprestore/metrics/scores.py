"""Per-image reconstruction metrics: MSE, PSNR, SSIM and the normalised feature error.

Every function works on a batch and returns one value per sample, a tensor of
shape ``(N,)`` (no reduction), so callers can average, take medians or report
per-image tables as they like.

Conventions for the image metrics (:func:`mse`, :func:`psnr`, :func:`ssim`,
:func:`image_metrics`):

* inputs are floating-point tensors of shape N×C×H×W (N ≥ 1) with values in
  ``[0, data_range]`` (``[0, 1]`` by default); they are validated (float, 4-D,
  same shape, same device, finite) and a ``ValueError`` names the problem;
* the reference ``y`` must lie in ``[0, data_range]``: a 0–255 or [−1, 1] image
  is refused with a hint, not scored;
* the reconstruction ``x`` is **clamped** to ``[0, data_range]`` before the
  metric is computed, i.e. it is scored as it would be displayed/saved; values
  beyond ``[−data_range, 2·data_range]`` are refused as another scale;
* the computation runs in float32 (float64 inputs stay float64) with autocast
  disabled, so bf16/fp16 inputs or a surrounding ``torch.autocast`` region do
  not degrade the result; the output has that compute dtype and lies on the
  input device;
* the functions are differentiable (no ``no_grad``), although they are meant
  for evaluation.

Agreement with scikit-image (checked in ``tests/metrics/test_scores.py`` on crops of
``skimage.data.astronaut/chelsea/coffee``): :func:`mse` and :func:`psnr` match
``skimage.metrics.mean_squared_error`` / ``peak_signal_noise_ratio``;
:func:`ssim` matches ``skimage.metrics.structural_similarity(...,
gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1,
channel_axis=-1)`` to ~2e-5 (float32 rounding).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from deeprestore.metrics._checks import check_finite, check_image_pair
from deeprestore.precision import compute_dtype, full_precision

__all__ = ["mse", "psnr", "ssim", "feature_error", "image_metrics", "SSIM_SIGMA", "SSIM_WINDOW"]

#: Standard deviation of the Gaussian SSIM window (Wang et al. 2004, Sec. III-C).
SSIM_SIGMA: float = 1.5
#: Side of the Gaussian SSIM window; 11×11 as in Wang et al. 2004. It equals
#: ``2 * int(3.5 * SSIM_SIGMA + 0.5) + 1``, the size torchmetrics and
#: scikit-image (``truncate=3.5``) derive from the sigma.
SSIM_WINDOW: int = 11


def _check_data_range(data_range: float) -> float:
    data_range = float(data_range)
    if not (data_range > 0 and data_range != float("inf")):
        raise ValueError(f"data_range must be a positive finite number, got {data_range}")
    return data_range


def _prepare(x: Tensor, y: Tensor, data_range: float) -> tuple[Tensor, Tensor]:
    """Validate, upcast to the compute dtype and clamp to ``[0, data_range]``."""
    check_image_pair(x, y, data_range=data_range)
    dtype = compute_dtype(x)
    return x.to(dtype).clamp(0.0, data_range), y.to(dtype).clamp(0.0, data_range)


def _mse(x: Tensor, y: Tensor) -> Tensor:
    return (x - y).pow(2).flatten(1).mean(dim=1)


def _psnr(x: Tensor, y: Tensor, data_range: float) -> Tensor:
    if x.shape[0] == 0:
        return x.new_empty(0)
    out = peak_signal_noise_ratio(x, y, data_range=data_range, reduction="none", dim=(1, 2, 3))
    return out.to(x.dtype)


def _ssim(x: Tensor, y: Tensor, data_range: float) -> Tensor:
    h, w = x.shape[-2:]
    if min(h, w) < SSIM_WINDOW:
        raise ValueError(f"ssim needs images of at least {SSIM_WINDOW}×{SSIM_WINDOW} pixels (the Gaussian window), got {h}×{w}")
    if x.shape[0] == 0:
        return x.new_empty(0)
    # torchmetrics reflect-pads the images and averages the SSIM map over the whole
    # image including the padded border; scikit-image (and Wang et al.'s reference
    # MATLAB code) only average over the "valid" region where the window lies
    # inside the image. Ask for the full map and crop the border ourselves: in the
    # valid region the two computations are identical; torchmetrics' own mean
    # differs from scikit-image by up to ~2e-2 on blurred photos (measured).
    _, ssim_map = structural_similarity_index_measure(
        x,
        y,
        gaussian_kernel=True,
        sigma=SSIM_SIGMA,
        kernel_size=SSIM_WINDOW,
        data_range=data_range,
        k1=0.01,
        k2=0.03,
        reduction="none",
        return_full_image=True,
    )
    if ssim_map.shape != x.shape:  # guard the crop against a change in torchmetrics' padding
        raise RuntimeError(f"unexpected SSIM map shape {tuple(ssim_map.shape)} for input {tuple(x.shape)}")
    pad = (SSIM_WINDOW - 1) // 2
    return ssim_map[..., pad : h - pad, pad : w - pad].flatten(1).mean(dim=1).to(x.dtype)


def mse(x: Tensor, y: Tensor) -> Tensor:
    """Per-image mean squared error.

    ``MSE_n = mean_{c,h,w} (x[n,c,h,w] - y[n,c,h,w])^2``, as
    ``skimage.metrics.mean_squared_error`` for each image.

    Args:
        x: reconstruction, N×C×H×W floating point in ``[0, 1]`` (clamped).
        y: reference, N×C×H×W floating point in ``[0, 1]`` (clamped).

    Returns:
        Tensor of shape ``(N,)``, float32 (float64 for float64 inputs).

    Raises:
        ValueError: shapes differ, not 4-D, an empty batch, integer input, different devices,
            non-finite input, or values on another scale (see the module docstring).
        TypeError: a non-tensor.
    """
    x, y = _prepare(x, y, 1.0)
    with full_precision(x.device):
        return _mse(x, y)


def psnr(x: Tensor, y: Tensor, data_range: float = 1.0) -> Tensor:
    """Per-image peak signal-to-noise ratio in dB.

    ``PSNR_n = 10 log10(data_range^2 / MSE_n)`` (as
    ``skimage.metrics.peak_signal_noise_ratio``), computed with
    ``torchmetrics.functional.peak_signal_noise_ratio`` reduced over C, H, W.

    Identical images (``MSE_n == 0``) give ``+inf``, like scikit-image. Average
    PSNR over a data set with care (e.g. report the median, or the PSNR of the
    mean MSE) if perfect reconstructions can occur.

    Args:
        x: reconstruction, N×C×H×W floating point in ``[0, data_range]`` (clamped).
        y: reference, N×C×H×W floating point in ``[0, data_range]`` (clamped).
        data_range: the peak value ``MAX_I``; 1.0 for images in ``[0, 1]``.

    Returns:
        Tensor of shape ``(N,)``, float32 (float64 for float64 inputs).

    Raises:
        ValueError: invalid input (see :func:`mse`) or a non-positive ``data_range``.
    """
    data_range = _check_data_range(data_range)
    x, y = _prepare(x, y, data_range)
    with full_precision(x.device):
        return _psnr(x, y, data_range)


def ssim(x: Tensor, y: Tensor, data_range: float = 1.0) -> Tensor:
    """Per-image structural similarity index (SSIM).

    Wang, Bovik, Sheikh & Simoncelli, "Image quality assessment: from error
    visibility to structural similarity", IEEE TIP 13(4), 2004, Eq. (13):

        SSIM(a, b) = (2 mu_a mu_b + C1)(2 sigma_ab + C2)
                     / ((mu_a^2 + mu_b^2 + C1)(sigma_a^2 + sigma_b^2 + C2)),

    with local statistics from an 11×11 Gaussian window, sigma 1.5, normalised to
    unit sum (Sec. III-C), ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2``, ``L =
    data_range``, and population (not sample) covariances. The SSIM map is
    computed per channel by ``torchmetrics.functional.
    structural_similarity_index_measure`` and averaged over the channels and the
    *valid* pixels, i.e. excluding the 5-pixel border where the window would
    leave the image — exactly what ``skimage.metrics.structural_similarity(a, b,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1,
    channel_axis=-1)`` does. (torchmetrics' own reduction also averages the
    reflect-padded border and disagrees with scikit-image by up to ~2e-2.)

    Args:
        x: reconstruction, N×C×H×W floating point in ``[0, data_range]``
            (clamped), with H, W >= 11.
        y: reference, same shape.
        data_range: dynamic range ``L`` of the images; 1.0 for ``[0, 1]``.

    Returns:
        Tensor of shape ``(N,)`` with values in ``[-1, 1]`` (1 for identical
        images), float32 (float64 for float64 inputs).

    Raises:
        ValueError: invalid input (see :func:`mse`), images smaller than 11×11
            or a non-positive ``data_range``.
    """
    data_range = _check_data_range(data_range)
    x, y = _prepare(x, y, data_range)
    with full_precision(x.device):
        return _ssim(x, y, data_range)


def image_metrics(x: Tensor, y: Tensor, data_range: float = 1.0) -> dict[str, Tensor]:
    """MSE, PSNR and SSIM of each image at once (inputs validated once).

    Args:
        x: reconstruction, N×C×H×W floating point in ``[0, data_range]`` (clamped).
        y: reference, same shape.
        data_range: dynamic range of the images; 1.0 for ``[0, 1]``.

    Returns:
        ``{"mse": (N,), "psnr": (N,), "ssim": (N,)}``; see :func:`mse`,
        :func:`psnr` and :func:`ssim`. MSE is computed on the clamped images
        (for ``data_range != 1`` in the images' own units).
    """
    data_range = _check_data_range(data_range)
    x, y = _prepare(x, y, data_range)
    with full_precision(x.device):
        return {"mse": _mse(x, y), "psnr": _psnr(x, y, data_range), "ssim": _ssim(x, y, data_range)}


def feature_error(features: Tensor, target: Tensor) -> Tensor:
    """Per-sample normalised feature reconstruction error ``||Phi(x_hat) - Phi0|| / ||Phi0||``.

    The normalised Euclidean error used to evaluate representation inversion by
    Mahendran & Vedaldi, "Understanding Deep Image Representations by Inverting
    Them", CVPR 2015: their loss is normalised by ``||Phi0||^2`` (Sec. 3,
    "Balancing the different terms", objective ``||Phi(sigma x) - Phi0||^2 /
    ||Phi0||^2 + ...``); this is its square root, a relative error: 0 for a
    perfect match, 1 for ``Phi(x_hat) = 0`` or ``Phi(x_hat) = 2 Phi0``.

    Norms are Frobenius norms over all non-batch dimensions; samples are
    independent. Computed in float32 (float64 stays float64) with autocast off.

    Args:
        features: ``Phi(x_hat)``, shape N×... (any number of trailing dims, e.g.
            N×C×H×W feature maps or N×D vectors).
        target: ``Phi0 = Phi(x0)``, same shape as ``features``.

    Returns:
        Tensor of shape ``(N,)``, non-negative.

    Raises:
        ValueError: shapes differ, a 0-d input, non-finite values, or a target
            sample whose norm is zero (the relative error is undefined there; we
            raise rather than return NaN/inf — use an absolute error such as
            ``torch.linalg.vector_norm(features - target)`` for such samples).
        TypeError: non-tensor or integer input.
    """
    for t, n in ((features, "features"), (target, "target")):
        if not isinstance(t, Tensor):
            raise TypeError(f"{n} must be a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"{n} must be a floating-point tensor, got dtype {t.dtype}")
        if t.ndim < 1:
            raise ValueError(f"{n} must have a batch dimension (shape N×...), got a 0-d tensor")
    if features.shape != target.shape:
        raise ValueError(f"features and target must have the same shape, got {tuple(features.shape)} and {tuple(target.shape)}")
    if features.device != target.device:
        raise ValueError(f"features and target must be on the same device, got {features.device} and {target.device}")
    check_finite(features, "features")
    check_finite(target, "target")

    n = features.shape[0]
    dtype = compute_dtype(features)
    with full_precision(features.device):
        f = features.to(dtype).reshape(n, -1)
        t = target.to(dtype).reshape(n, -1)
        target_norm = torch.linalg.vector_norm(t, dim=1)
        zero = target_norm == 0
        if bool(zero.any()):
            idx = zero.nonzero().flatten().tolist()
            raise ValueError(
                f"target has zero norm for sample(s) {idx[:10]}{'...' if len(idx) > 10 else ''}; "
                "the normalised feature error ||Phi - Phi0|| / ||Phi0|| is undefined there"
            )
        return torch.linalg.vector_norm(f - t, dim=1) / target_norm
