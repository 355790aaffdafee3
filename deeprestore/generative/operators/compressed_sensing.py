"""Compressed sensing: ``y = A vec(x)`` with ``m`` random linear measurements of an ``n = C·H·W`` image.

* :class:`GaussianCompressedSensing` — a dense ``m×n`` matrix with i.i.d. ``N(0, 1/m)`` entries, the
  measurement matrix of CSGM (Bora et al. 2017, "Compressed sensing using generative models", §6:
  "``A_ij ~ N(0, 1/m)``") and of ILO's compressed-sensing experiments (Daras et al. 2021). It costs
  ``4·m·n`` bytes, so it is for small images.
* :class:`PartialCirculantCompressedSensing` — a subsampled random convolution
  ``A = m^{-1/2} R_Ω C_g D``: random sign flips ``D`` (Rademacher), circular convolution ``C_g`` with a
  standard Gaussian vector ``g`` over the flattened image, and restriction ``R_Ω`` to ``m`` of the ``n``
  outputs (Romberg 2009, "Compressive sensing by random convolution", SIAM J. Imaging Sci.; Krahmer,
  Mendelson & Rauhut 2014, "Suprema of chaos processes and the restricted isometry property",
  partial random circulant matrices). Applied by FFT in ``O(n log n)`` with ``O(n)`` memory, so it
  works for ``3×256×256`` images and larger. ``Aᵀ = m^{-1/2} D C_gᵀ R_Ωᵀ``, with ``C_gᵀ`` the
  convolution with the conjugate spectrum (circular correlation) — exact.

Both are scaled so that ``E‖A x‖² = ‖x‖²``. Measurements are ``N×m``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from deeprestore.generative.operators.base import ForwardOperator, check_image_shape

__all__ = ["SUBSAMPLING", "GaussianCompressedSensing", "PartialCirculantCompressedSensing"]

SUBSAMPLING = ("random", "first")


def _check_m(num_measurements: int, n: int | None = None) -> int:
    if int(num_measurements) != num_measurements or num_measurements < 1:
        raise ValueError(f"num_measurements must be an integer ≥ 1, got {num_measurements!r}")
    if n is not None and num_measurements > n:
        raise ValueError(f"num_measurements must be ≤ n = C·H·W = {n}, got {num_measurements}")
    return int(num_measurements)


class GaussianCompressedSensing(ForwardOperator):
    """``y = A vec(x)``, ``A`` an ``m×n`` matrix with i.i.d. ``N(0, 1/m)`` entries (Bora et al. 2017).

    Args:
        image_shape: ``(C, H, W)``, ``n = C·H·W``.
        num_measurements: ``m ≥ 1``.
        seed: seed of the CPU generator that draws ``A`` (buffer ``matrix``, float32, ``m×n``).
        noise_std: measurement noise ``σ``.
        max_entries: refuse matrices with more than this many entries (``m·n``; 2²⁸ = 1 GiB in
            float32 by default) — use :class:`PartialCirculantCompressedSensing` for large images.

    Images ``N×C×H×W`` → measurements ``N×m``.
    """

    name = "cs-gaussian"

    def __init__(
        self, image_shape: Sequence[int], num_measurements: int, seed: int = 0, noise_std: float = 0.0, max_entries: int = 2**28
    ) -> None:
        n = math.prod(check_image_shape(image_shape))
        m = _check_m(num_measurements)
        if m * n > max_entries:
            raise ValueError(
                f"a dense {m}×{n} Gaussian matrix has {m * n:,} entries (> max_entries = {max_entries:,}); use PartialCirculantCompressedSensing ('cs-circulant') or raise max_entries"
            )
        super().__init__(image_shape, noise_std)
        self.seed = int(seed)
        matrix = torch.randn(m, n, generator=torch.Generator().manual_seed(self.seed)) / math.sqrt(m)
        self.register_buffer("matrix", matrix)

    @property
    def measurement_shape(self) -> tuple[int, ...]:
        return (self.matrix.shape[0],)

    def _forward(self, x: Tensor) -> Tensor:
        return x.flatten(1) @ self.matrix.to(x.dtype).T

    def _adjoint(self, y: Tensor) -> Tensor:
        return (y @ self.matrix.to(y.dtype)).view(y.shape[0], *self.image_shape)


class PartialCirculantCompressedSensing(ForwardOperator):
    """``y = m^{-1/2} R_Ω (g ⊛ (s ⊙ vec(x)))``: signs ``s``, circular convolution with Gaussian ``g``, subsampling.

    Args:
        image_shape: ``(C, H, W)``, ``n = C·H·W``.
        num_measurements: ``1 ≤ m ≤ n``.
        seed: seed of the CPU generator that draws ``s ∈ {±1}ⁿ``, ``g ~ N(0, Iₙ)`` and ``Ω``.
        noise_std: measurement noise ``σ``.
        subsample: ``"random"`` (``Ω`` a seeded random ``m``-subset of ``0…n−1``, sorted) or
            ``"first"`` (``Ω = {0, …, m−1}``).

    Buffers ``signs`` (``n``), ``kernel`` (``g``, ``n``) and ``indices`` (``Ω``, ``m``, int64). Images
    ``N×C×H×W`` → measurements ``N×m``. ``dense_matrix()`` builds ``A`` explicitly (small images only).
    """

    name = "cs-circulant"

    def __init__(
        self, image_shape: Sequence[int], num_measurements: int, seed: int = 0, noise_std: float = 0.0, subsample: str = "random"
    ) -> None:
        n = math.prod(check_image_shape(image_shape))
        m = _check_m(num_measurements, n)
        if subsample not in SUBSAMPLING:
            raise ValueError(f"subsample must be one of {SUBSAMPLING}, got {subsample!r}")
        super().__init__(image_shape, noise_std)
        self.seed = int(seed)
        self.subsample = subsample
        generator = torch.Generator().manual_seed(self.seed)
        signs = torch.randint(0, 2, (n,), generator=generator).to(torch.float32) * 2 - 1
        kernel = torch.randn(n, generator=generator)
        indices = torch.sort(torch.randperm(n, generator=generator)[:m]).values if subsample == "random" else torch.arange(m)
        self.register_buffer("signs", signs)
        self.register_buffer("kernel", kernel)
        self.register_buffer("indices", indices)

    @property
    def measurement_shape(self) -> tuple[int, ...]:
        return (self.indices.shape[0],)

    def _spectrum(self, dtype: torch.dtype) -> Tensor:
        # Recomputed per call (one FFT of length n) so the spectrum has the input's precision.
        return torch.fft.rfft(self.kernel.to(dtype))

    def _forward(self, x: Tensor) -> Tensor:
        n = self.image_size
        flipped = x.flatten(1) * self.signs.to(x.dtype)
        convolved = torch.fft.irfft(torch.fft.rfft(flipped) * self._spectrum(x.dtype), n=n)
        return convolved[:, self.indices] / math.sqrt(self.indices.shape[0])

    def _adjoint(self, y: Tensor) -> Tensor:
        n, m = self.image_size, self.indices.shape[0]
        full = y.new_zeros(y.shape[0], n)
        full[:, self.indices] = y / math.sqrt(m)
        correlated = torch.fft.irfft(torch.fft.rfft(full) * self._spectrum(y.dtype).conj(), n=n)
        return (correlated * self.signs.to(y.dtype)).view(y.shape[0], *self.image_shape)

    def dense_matrix(self, dtype: torch.dtype = torch.float64) -> Tensor:
        """The ``m×n`` matrix ``A`` built entry by entry from its definition: ``A_ij = m^{-1/2} g[(Ω_i − j) mod n] s_j``."""
        n, m = self.image_size, self.indices.shape[0]
        offsets = (self.indices[:, None] - torch.arange(n, device=self.indices.device)[None, :]) % n
        return self.kernel.to(dtype)[offsets] * self.signs.to(dtype)[None, :] / math.sqrt(m)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, subsample={self.subsample!r}"
