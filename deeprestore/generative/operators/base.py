"""The shared base class of the forward operators ``y = A x + ε`` of inverse problems.

Modelled on deepinv's ``LinearPhysics``: an operator is a linear map ``A`` (``forward``), its exact
adjoint ``Aᵀ`` (``adjoint``) and a measurement model ``measure(x) = A x + σ ε`` with ``ε`` standard
Gaussian (``σ = noise_std``), the setting of CSGM (Bora et al. 2017, "Compressed sensing using
generative models", eq. 1) and ILO (Daras et al. 2021, "Intermediate layer optimization for
inverse problems using deep generative models", §2).

Shapes: images are ``N×C×H×W`` with ``(C, H, W) = image_shape`` fixed at construction; measurements
are ``N×measurement_shape``. Fixed random parts (masks, matrices, kernels) are drawn once from a
seeded CPU ``torch.Generator`` — the same operator on every machine — and registered as buffers, so
``.to(device)`` moves them. They are stored in float32 and cast to the input's dtype on use, so an
operator applies to float64 inputs without ``.double()`` (the cast is exact, so ``forward`` and
``adjoint`` stay exact transposes of each other in float64).

Precision: an operator computes in float32 at least — bf16 or fp16 inputs (a generator's output
under Lightning's ``bf16-mixed``) are cast up, and any autocast region is turned off inside it —
because its adjoint must stay exact and the FFT of the circulant operator has no bf16 kernel on the
CPU or on CUDA. Its outputs are float32 (float64 for float64 inputs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from deeprestore.precision import compute_dtype, full_precision

__all__ = ["ForwardOperator", "check_image_shape", "check_noise_std"]


def check_image_shape(image_shape: Sequence[int]) -> tuple[int, int, int]:
    """``image_shape`` as a ``(C, H, W)`` tuple of positive ints; ``ValueError`` otherwise."""
    try:
        shape = tuple(int(s) for s in image_shape)
    except TypeError as error:
        raise ValueError(f"image_shape must be a (C, H, W) sequence of ints, got {image_shape!r}") from error
    if len(shape) != 3 or any(s < 1 for s in shape) or any(s != t for s, t in zip(shape, image_shape)):
        raise ValueError(f"image_shape must be (C, H, W) with positive ints, got {tuple(image_shape)!r}")
    return shape  # type: ignore[return-value]


def check_noise_std(noise_std: float) -> float:
    """``noise_std`` as a float ``≥ 0``; ``ValueError`` otherwise."""
    noise_std = float(noise_std)
    if not math.isfinite(noise_std) or noise_std < 0:
        raise ValueError(f"noise_std must be a finite number ≥ 0, got {noise_std}")
    return noise_std


class ForwardOperator(nn.Module):
    """A linear forward operator ``A`` on images of shape ``image_shape`` plus Gaussian noise.

    Subclasses implement :meth:`_forward` (``N×C×H×W → N×measurement_shape``), :meth:`_adjoint`
    (the exact transpose) and :attr:`measurement_shape`; shapes are checked here.

    Args:
        image_shape: ``(C, H, W)`` of one image.
        noise_std: standard deviation ``σ`` of the measurement noise added by :meth:`measure`.

    Attributes:
        name: the operator's name in :func:`~deeprestore.generative.operators.make_operator`.
    """

    name: str = "operator"

    def __init__(self, image_shape: Sequence[int], noise_std: float = 0.0) -> None:
        super().__init__()
        self._image_shape = check_image_shape(image_shape)
        self.noise_std = check_noise_std(noise_std)

    # ----------------------------------------------------------------------------------- shapes
    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return self._image_shape

    @property
    def image_size(self) -> int:
        """``n = C·H·W``, the dimension of one image."""
        return math.prod(self._image_shape)

    @property
    def measurement_shape(self) -> tuple[int, ...]:
        """Shape of one image's measurement tensor (without the batch dimension)."""
        raise NotImplementedError

    @property
    def num_measurements(self) -> int:
        """Number of measurements of one image (the entries of ``A x`` that carry information)."""
        return math.prod(self.measurement_shape)

    # ------------------------------------------------------------------------------ the map A
    def forward(self, x: Tensor) -> Tensor:
        """``A x``: images ``N×C×H×W`` → measurements ``N×measurement_shape`` (noise-free, float32 or float64)."""
        self._check_images(x)
        with full_precision(x.device):
            return self._forward(x.to(compute_dtype(x)))

    def adjoint(self, y: Tensor) -> Tensor:
        """``Aᵀ y``: measurements ``N×measurement_shape`` → images ``N×C×H×W`` (float32 or float64)."""
        self.check_measurements(y)
        with full_precision(y.device):
            return self._adjoint(y.to(compute_dtype(y)))

    def measure(self, x: Tensor, generator: torch.Generator | None = None, seeds: Sequence[int] | None = None) -> Tensor:
        """``A x + σ ε`` with ``ε ~ N(0, I)``, ``σ = noise_std``: drawn from ``generator`` (on ``x``'s
        device), or, given one seed per image, from each image's own CPU stream (so an image's
        noise does not depend on its batch).

        Returns ``N×measurement_shape``; with ``noise_std == 0`` the same as ``self(x)``.
        """
        y = self(x)
        if self.noise_std > 0:
            if seeds is not None:
                if len(seeds) != len(y):
                    raise ValueError(f"need one seed per image ({len(y)}), got {len(seeds)}")
                noise = torch.stack(
                    [torch.randn(y.shape[1:], generator=torch.Generator().manual_seed(s), dtype=y.dtype) for s in seeds]
                ).to(y.device)
            else:
                noise = torch.randn(y.shape, generator=generator, device=y.device, dtype=y.dtype)
            y = y + self.noise_std * self._shape_noise(noise)
        return y

    def _shape_noise(self, noise: Tensor) -> Tensor:
        """Hook: the noise actually added (masking operators keep the unobserved entries at zero)."""
        return noise

    def _forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def _adjoint(self, y: Tensor) -> Tensor:
        raise NotImplementedError

    # ---------------------------------------------------------------------------------- checks
    def _check_images(self, x: Tensor) -> None:
        if x.dim() != 4 or tuple(x.shape[1:]) != self._image_shape:
            raise ValueError(
                f"{type(self).__name__} expects images of shape N×{'×'.join(map(str, self._image_shape))}, got {tuple(x.shape)}"
            )

    def check_measurements(self, y: Tensor) -> None:
        """``ValueError`` unless ``y`` is ``N × measurement_shape`` (the measurements of this operator)."""
        if y.dim() != 1 + len(self.measurement_shape) or tuple(y.shape[1:]) != tuple(self.measurement_shape):
            raise ValueError(
                f"{type(self).__name__} expects measurements of shape N×{'×'.join(map(str, self.measurement_shape))}, got {tuple(y.shape)}"
            )

    def extra_repr(self) -> str:
        return f"name={self.name!r}, image_shape={self._image_shape}, num_measurements={self.num_measurements}, noise_std={self.noise_std}"
