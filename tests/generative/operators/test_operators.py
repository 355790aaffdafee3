"""The forward operators: adjoints, linearity, seeds, noise, masks, closed forms, dtypes and bad arguments."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize
import torch

from deeprestore.generative.operators import (
    OPERATOR_NAMES,
    BoxInpainting,
    ForwardOperator,
    GaussianCompressedSensing,
    GaussianDenoising,
    PartialCirculantCompressedSensing,
    RandomPixelInpainting,
    SuperResolution,
    make_operator,
)

SHAPE = (3, 12, 16)


def all_operators(shape: tuple[int, int, int] = SHAPE) -> list[ForwardOperator]:
    return [
        RandomPixelInpainting(shape, 0.3, seed=1),
        BoxInpainting(shape, 5),
        BoxInpainting(shape, (3, 7), top=0, left=9),
        GaussianDenoising(shape),
        SuperResolution(shape, 4, mode="area"),
        SuperResolution(shape, 2, mode="bicubic"),
        SuperResolution(shape, 4, mode="bicubic"),
        SuperResolution(shape, 1),
        GaussianCompressedSensing(shape, 50, seed=2),
        PartialCirculantCompressedSensing(shape, 70, seed=3),
        PartialCirculantCompressedSensing(shape, 70, seed=3, subsample="first"),
        *(make_operator(name, shape, seed=4) for name in OPERATOR_NAMES),
    ]


OPERATORS = all_operators()


def ids(op: ForwardOperator) -> str:
    return f"{op.name}-{op.num_measurements}-{getattr(op, 'mode', '')}"


def random_pair(op: ForwardOperator, batch: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, *op.image_shape, generator=g, dtype=torch.float64)
    y = torch.randn(batch, *op.measurement_shape, generator=g, dtype=torch.float64)
    return x, y


# ------------------------------------------------------------------------------------- operators
@pytest.mark.parametrize("op", OPERATORS, ids=ids)
def test_adjoint_identity(op: ForwardOperator) -> None:
    """⟨A x, y⟩ = ⟨x, Aᵀ y⟩ in float64, per image."""
    x, y = random_pair(op)
    ax, aty = op(x), op.adjoint(y)
    assert ax.shape == y.shape and aty.shape == x.shape and ax.dtype == torch.float64
    lhs = (ax * y).flatten(1).sum(1)
    rhs = (x * aty).flatten(1).sum(1)
    torch.testing.assert_close(lhs, rhs, rtol=1e-10, atol=1e-10 * float(lhs.abs().max()))


@pytest.mark.parametrize("op", OPERATORS, ids=ids)
def test_linear(op: ForwardOperator) -> None:
    x, _ = random_pair(op, seed=1)
    x2, _ = random_pair(op, seed=2)
    torch.testing.assert_close(op(2.5 * x - 0.5 * x2), 2.5 * op(x) - 0.5 * op(x2), rtol=1e-10, atol=1e-10)
    assert op.num_measurements <= math.prod(op.measurement_shape)


@pytest.mark.parametrize("name", OPERATOR_NAMES)
def test_seeded_reproducible(name: str) -> None:
    x = torch.rand(2, *SHAPE, generator=torch.Generator().manual_seed(0))
    a, b = make_operator(name, SHAPE, seed=7, noise_std=0.05), make_operator(name, SHAPE, seed=7, noise_std=0.05)
    torch.testing.assert_close(a(x), b(x), rtol=0, atol=0)
    ya = a.measure(x, generator=torch.Generator().manual_seed(5))
    yb = b.measure(x, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(ya, yb, rtol=0, atol=0)
    assert not torch.equal(ya, a(x))  # noise was added
    if name in ("inpaint-pixels", "cs-gaussian", "cs-circulant"):
        assert not torch.equal(a(x), make_operator(name, SHAPE, seed=8)(x))


def test_measure_noise_level() -> None:
    op = make_operator("denoise", (1, 64, 64))
    assert op.noise_std == 0.1
    x = torch.zeros(4, 1, 64, 64)
    assert abs(float(op.measure(x, torch.Generator().manual_seed(0)).std()) - 0.1) < 0.005
    assert torch.equal(make_operator("super-resolution", SHAPE).measure(x[:, :, :12, :16].expand(-1, 3, -1, -1)), torch.zeros(4, 3, 3, 4))


def test_inpainting_masks() -> None:
    pixels = RandomPixelInpainting(SHAPE, 0.25, seed=0, noise_std=0.1)
    x = torch.randn(2, *SHAPE)
    y = pixels(x)
    observed = pixels.mask[0, 0].bool()
    assert int(observed.sum()) == round(0.25 * 12 * 16) and pixels.num_measurements == 3 * 48
    assert torch.equal(y[:, :, ~observed], torch.zeros_like(y[:, :, ~observed]))
    assert torch.equal(y[:, :, observed], x[:, :, observed])
    noisy = pixels.measure(x)
    assert torch.equal(noisy[:, :, ~observed], torch.zeros_like(noisy[:, :, ~observed]))  # zeros stay zeros
    box = BoxInpainting((1, 8, 8), 4)
    expected = torch.ones(8, 8)
    expected[2:6, 2:6] = 0
    assert torch.equal(box.mask[0, 0], expected) and box.num_measurements == 48
    assert make_operator("inpaint-box", (1, 8, 8)).num_measurements == 48


def test_super_resolution_values() -> None:
    x = torch.arange(16.0).view(1, 1, 4, 4)
    torch.testing.assert_close(SuperResolution((1, 4, 4), 2)(x), torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))
    constant = torch.full((2, 3, 16, 16), 0.7, dtype=torch.float64)
    torch.testing.assert_close(
        SuperResolution((3, 16, 16), 4, mode="bicubic")(constant), torch.full((2, 3, 4, 4), 0.7, dtype=torch.float64)
    )


def test_partial_circulant_matches_dense_matrix() -> None:
    """A = m^{-1/2} R_Ω C_g D built explicitly (scipy's circulant: C[i, j] = g[(i − j) mod n])."""
    shape = (2, 3, 5)
    for subsample in ("random", "first"):
        op = PartialCirculantCompressedSensing(shape, 11, seed=5, subsample=subsample)
        g = op.kernel.double().numpy()
        signs = op.signs.double().numpy()
        assert set(np.unique(signs)) == {-1.0, 1.0}
        rows = op.indices.numpy()
        assert len(set(rows.tolist())) == 11 and (subsample == "random" or rows.tolist() == list(range(11)))
        dense = scipy.linalg.circulant(g)[rows] * signs[None, :] / math.sqrt(11)
        np.testing.assert_allclose(op.dense_matrix().numpy(), dense, rtol=1e-12, atol=1e-12)
        x, y = random_pair(op, batch=4)
        np.testing.assert_allclose(op(x).numpy(), x.flatten(1).numpy() @ dense.T, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(op.adjoint(y).flatten(1).numpy(), y.numpy() @ dense, rtol=1e-10, atol=1e-12)


def test_gaussian_cs_scaling() -> None:
    op = GaussianCompressedSensing((1, 32, 32), 256, seed=0)
    assert op.matrix.shape == (256, 1024)
    assert abs(float(op.matrix.var()) * 256 - 1) < 0.02  # entries N(0, 1/m)
    x = torch.randn(1, 1, 32, 32)
    torch.testing.assert_close(op(x)[0], op.matrix @ x.flatten())


def test_partial_circulant_large_image() -> None:
    """3×256×256 (n = 196,608): no dense matrix, norm roughly kept (E‖A x‖² = ‖x‖²)."""
    op = make_operator("cs-circulant", (3, 256, 256), seed=0)
    assert op.num_measurements == 3 * 256 * 256 // 8
    x = torch.randn(2, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    y = op(x)
    assert y.shape == (2, op.num_measurements)
    ratio = y.pow(2).sum(1) / x.flatten(1).pow(2).sum(1)
    assert ((ratio > 0.5) & (ratio < 2)).all()
    lhs, rhs = (y * y).sum(), (x * op.adjoint(y)).sum()
    assert abs(float(lhs - rhs)) < 1e-4 * float(lhs)
    with pytest.raises(ValueError, match="cs-circulant"):
        make_operator("cs-gaussian", (3, 256, 256))


def test_module_buffers_follow_dtype_and_device() -> None:
    op = make_operator("cs-circulant", SHAPE).to("cpu", torch.float64)
    assert op.kernel.dtype == torch.float64 and op.indices.dtype == torch.int64
    names = {name for name, _ in make_operator("inpaint-pixels", SHAPE).named_buffers()}
    assert names == {"mask"}


def test_bicubic_adjoint_is_differentiable() -> None:
    op = SuperResolution(SHAPE, 2, mode="bicubic")
    y = torch.randn(1, 3, 6, 8, requires_grad=True)
    with torch.no_grad():
        assert op.adjoint(y).shape == (1, *SHAPE)
    op.adjoint(y).square().sum().backward()
    assert y.grad is not None and y.grad.shape == y.shape


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: RandomPixelInpainting(SHAPE, 0.0), "keep_fraction"),
        (lambda: RandomPixelInpainting(SHAPE, 1.5), "keep_fraction"),
        (lambda: BoxInpainting(SHAPE, 13), "box_size"),
        (lambda: BoxInpainting(SHAPE, 4, top=10), "does not fit"),
        (lambda: SuperResolution(SHAPE, 5), "divide"),
        (lambda: SuperResolution(SHAPE, 0), "factor"),
        (lambda: SuperResolution(SHAPE, 2, mode="nearest"), "mode"),
        (lambda: GaussianCompressedSensing(SHAPE, 0), "num_measurements"),
        (lambda: PartialCirculantCompressedSensing(SHAPE, 0), "num_measurements"),
        (lambda: PartialCirculantCompressedSensing(SHAPE, 3 * 12 * 16 + 1), "num_measurements"),
        (lambda: PartialCirculantCompressedSensing(SHAPE, 5, subsample="last"), "subsample"),
        (lambda: GaussianDenoising(SHAPE, noise_std=-0.1), "noise_std"),
        (lambda: GaussianDenoising((3, 12)), "image_shape"),
        (lambda: GaussianDenoising((3, 0, 4)), "image_shape"),
        (lambda: make_operator("deblur", SHAPE), "inpaint-pixels, inpaint-box"),
        (lambda: make_operator("denoise", SHAPE, factor=2), "factor"),
    ],
)
def test_bad_arguments_raise(build, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize("op", [OPERATORS[0], OPERATORS[4], OPERATORS[8], OPERATORS[9]], ids=ids)
def test_shape_mismatch_raises(op: ForwardOperator) -> None:
    with pytest.raises(ValueError, match="expects images"):
        op(torch.zeros(2, 3, 12, 12))
    with pytest.raises(ValueError, match="expects images"):
        op(torch.zeros(3, 12, 16))
    with pytest.raises(ValueError, match="expects measurements"):
        op.adjoint(torch.zeros(2, 7))


@pytest.mark.parametrize("name", OPERATOR_NAMES)
def test_every_operator_computes_in_float32_from_bf16_and_under_autocast(name):
    """A bf16 image (a generator's output under bf16-mixed) is measured exactly as its float32
    value, and an autocast region does not reach inside (rfft has no bf16 kernel)."""
    op = make_operator(name, (3, 16, 16), seed=1)
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)).bfloat16()
    want, back = op(x.float()), op.adjoint(op(x.float()))
    got = op(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside, inside_back = op(x.float()), op.adjoint(op(x.float()))
    assert got.dtype == inside.dtype == inside_back.dtype == torch.float32
    for a, b in ((got, want), (inside, want), (inside_back, back)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
