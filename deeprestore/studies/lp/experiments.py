"""The studies of Lei, Jalal, Dhillon & Dimakis (2019, "Inverting deep generative models, one layer
at a time", Section 5): layer-wise LP inversion against gradient descent (CSGM, Bora et al. 2017).

* :func:`noise_study` — relative latent error against the noise level (their figure 2 / 3 style,
  log-log) on random fully connected ReLU networks, a fresh network per trial;
* :func:`dimension_study` — success rate and time against the latent dimension for networks whose
  every layer is ``expansion×`` wider than the previous (their figure 1 style);
* :func:`trained_generator_study` — the same on a given (trained) :class:`StagedGenerator`.

Every study returns rows with :data:`LP_COLUMNS`:

``method``
    ``"lp"`` (eq. 3 layer-wise, noiseless; falls back to ℓ∞ when infeasible), ``"lp-linf"``,
    ``"lp-l1"`` (Section 4 variants, :mod:`~deeprestore.generative.lp_inversion`), ``"gd"``
    (:func:`~deeprestore.generative.gradient_inversion.invert_by_gradient_descent`, its defaults).
``widths``
    layer sizes from the latent to the image joined by ``-`` (``"20-100-500"``; a multi-dimensional
    layer is written ``CxHxW``).
``noise``
    relative noise level ``σ_rel``: ``x = G(z) + σ_rel · ‖G(z)‖/√n · e``, ``e ~ N(0, I_n)``, so
    that ``E‖x − G(z)‖ ≈ σ_rel ‖G(z)‖`` (one draw ``e`` per trial, scaled for every level).
``trial``, ``latent_rel_error``
    ``‖ẑ − z‖ / ‖z‖`` (``inf`` when a method returned NaN).
``seconds``
    wall time per sample. LP: the layer-wise solves of that sample (the dense ``(A, b)`` of every
    stage is computed once per network and not counted). GD: the batch's time divided by the
    samples in it (one trial's noise levels, or all samples of a trained-generator study).
``success``
    ``latent_rel_error < 1e-6`` for noiseless data; ``latent_rel_error < 10 · noise`` for noisy
    data (:data:`SUCCESS_NOISELESS`, :data:`SUCCESS_NOISE_FACTOR`). Lei et al.'s bounds (Section
    4) are ``O(‖e‖)`` with constants depending on the network's conditioning; on the random
    20→100→500 networks the LP variants' median error is about ``0.4–0.8 × noise`` (see the tests),
    so 10× is a generous rule that only failures (wrong basin, wrong on/off pattern) break.

Seeds: trial ``t`` of a study with ``seed`` uses network seed ``1000·seed + t`` (the
generator's weights) and a latent/noise generator seeded ``10⁶ + 1000·seed + t``.

Parallel: the trials are independent, so ``processes > 1`` solves them in that many processes (each
with one torch thread and one BLAS thread; HiGHS and the small networks do not use more
profitably, and more threads than cores make every process several times slower). The rows are the same
as with one worker, in the same order, except ``seconds``.
"""

from __future__ import annotations

import copy
import logging
import math
import multiprocessing
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor

import torch
from threadpoolctl import threadpool_limits
from torch import Tensor
from tqdm.auto import tqdm

from deeprestore.generative.fc_generator import fully_connected_generator
from deeprestore.generative.gradient_inversion import invert_by_gradient_descent
from deeprestore.generative.lp_inversion import ThresholdSearchMemo, invert_layerwise
from deeprestore.generative.stage_matrix import stage_affine
from deeprestore.generative.staged_generator import StagedGenerator

__all__ = [
    "LP_COLUMNS",
    "LP_METHODS",
    "SUCCESS_NOISELESS",
    "SUCCESS_NOISE_FACTOR",
    "dimension_study",
    "invert_with",
    "layer_expansions",
    "noise_study",
    "trained_generator_study",
]

log = logging.getLogger(__name__)

LP_COLUMNS = ("method", "widths", "noise", "trial", "latent_rel_error", "seconds", "success")
LP_METHODS = ("lp", "lp-linf", "lp-l1", "gd")
SUCCESS_NOISELESS = 1e-6
SUCCESS_NOISE_FACTOR = 10.0
_LP_NOISE = {"lp": "none", "lp-linf": "linf", "lp-l1": "l1"}


def _success(error: float, noise: float) -> bool:
    return bool(error < (SUCCESS_NOISELESS if noise == 0 else max(SUCCESS_NOISELESS, SUCCESS_NOISE_FACTOR * noise)))


def _widths_string(generator: StagedGenerator) -> str:
    return "-".join("x".join(str(s) for s in shape) for shape in generator.layer_shapes())


def _rel_errors(z_hat: Tensor, z: Tensor) -> list[float]:
    diff = (z_hat.double() - z.double()).flatten(1).norm(dim=1)
    err = diff / z.double().flatten(1).norm(dim=1)
    return [e if math.isfinite(e) else math.inf for e in err.tolist()]


def _check_methods(methods: Sequence[str]) -> None:
    unknown = [m for m in methods if m not in LP_METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {LP_METHODS}")


def invert_with(
    method: str,
    generator: StagedGenerator,
    x: Tensor,
    affines: Sequence[tuple[Tensor, Tensor]] | None = None,
    seed: int = 0,
    gd_options: Mapping | None = None,
    memo: ThresholdSearchMemo | None = None,
) -> tuple[Tensor, list[float], object]:
    """Invert ``x`` (``N × image shape``) with one of :data:`LP_METHODS`; ``memo`` lets the LP
    methods share threshold searches on the same ``x`` (their seconds still count them).

    Returns:
        ``(z_hat, seconds, diagnostics)``: ``N × latent_shape`` float64, seconds per sample, and the
        LP's :class:`~deeprestore.generative.lp_inversion.InversionDiagnostics` (None for ``"gd"``).
    """
    _check_methods([method])
    if method == "gd":
        t0 = time.perf_counter()
        z_hat = invert_by_gradient_descent(generator, x, seed=seed, **dict(gd_options or {}))
        per = (time.perf_counter() - t0) / x.shape[0]
        return z_hat.double(), [per] * x.shape[0], None
    z_hat, diag = invert_layerwise(generator, x, noise=_LP_NOISE[method], affines=affines, memo=memo)
    return z_hat, list(diag.seconds), diag


def _affines(generator: StagedGenerator) -> list[tuple[Tensor, Tensor]]:
    shapes = generator.layer_shapes()
    return [stage_affine(stage, shapes[k]) for k, stage in enumerate(generator.stages)]


def _trial_rows(
    generator: StagedGenerator,
    z: Tensor,
    noise_levels: Sequence[float],
    methods: Sequence[str],
    trial: int,
    noise_gen: torch.Generator,
    gd_options: Mapping | None,
    seed: int,
) -> list[dict]:
    """One network, one latent ``z`` (``1 × k``), every noise level and method."""
    x0 = generator(z)
    n = x0[0].numel()
    e = torch.randn(x0.shape, generator=noise_gen, dtype=x0.dtype)
    scale = x0.flatten(1).norm(dim=1).reshape(-1, *([1] * (x0.dim() - 1))) / math.sqrt(n)
    x = torch.cat([x0 + level * scale * e for level in noise_levels])
    zs = z.expand(len(noise_levels), *z.shape[1:])
    affines = _affines(generator)
    widths = _widths_string(generator)
    memo = ThresholdSearchMemo()  # "lp" on noisy data falls back to exactly the "lp-linf" search
    rows = []
    for method in methods:
        z_hat, seconds, _ = invert_with(method, generator, x, affines, seed=seed, gd_options=gd_options, memo=memo)
        for level, err, sec in zip(noise_levels, _rel_errors(z_hat, zs), seconds):
            rows.append(
                dict(
                    method=method,
                    widths=widths,
                    noise=float(level),
                    trial=trial,
                    latent_rel_error=err,
                    seconds=sec,
                    success=_success(err, float(level)),
                )
            )
    return rows


def _one_thread() -> None:
    """Each worker computes on one thread: torch's and the BLAS libraries' (numpy's and scipy's
    OpenBLAS, used by the rank tests and HiGHS's callers). Two processes whose BLAS each start a
    thread per core oversubscribe the cores and run ~5× slower than one worker alone."""
    torch.set_num_threads(1)
    threadpool_limits(limits=1)


def _map_trials(fn: Callable[..., list[dict]], jobs: Sequence[tuple], processes: int, bar: tqdm) -> list[dict]:
    """``fn(*job)`` for every job, in order; in ``processes`` processes when ``processes > 1``."""
    rows: list[dict] = []
    if processes <= 1 or len(jobs) <= 1:
        for job in jobs:
            rows += fn(*job)
            bar.update()
        return rows
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context, initializer=_one_thread) as pool:
        for result in pool.map(fn, *zip(*jobs), chunksize=max(1, len(jobs) // (8 * processes))):
            rows += result
            bar.update()
    return rows


def _random_network_trial(
    widths: Sequence[int],
    activation: str,
    noise_levels: Sequence[float],
    methods: Sequence[str],
    trial: int,
    seed: int,
    gd_options: Mapping | None,
) -> list[dict]:
    """Trial ``trial``: its network, latent and noise from the seeds of the module docstring."""
    G = fully_connected_generator(widths, activation=activation, seed=1000 * seed + trial, dtype=torch.float64)
    g = torch.Generator().manual_seed(10**6 + 1000 * seed + trial)
    z = G.sample_latent(1, g).double()
    return _trial_rows(G, z, noise_levels, methods, trial, g, gd_options, seed=1000 * seed + trial)


def noise_study(
    widths: Sequence[int] = (20, 100, 500),
    noise_levels: Sequence[float] = (0, 1e-3, 1e-2, 3e-2, 1e-1),
    trials: int = 200,
    methods: Sequence[str] = LP_METHODS,
    seed: int = 0,
    activation: str = "relu",
    gd_options: Mapping | None = None,
    progress: bool = True,
    processes: int = 1,
) -> list[dict]:
    """Relative latent error against the noise level (Lei et al. Section 5, noisy experiments).

    Per trial: a fresh float64 network :func:`fully_connected_generator` ``(widths, seed=1000·seed
    + trial)``, one latent ``z ~ N(0, I_k)``, ``x = G(z) + noise · ‖G(z)‖/√n · e`` for every level
    (the same ``e`` scaled), every method on every level. ``processes``: processes solving trials.

    Returns:
        ``trials × len(noise_levels) × len(methods)`` rows with :data:`LP_COLUMNS`.
    """
    _check_methods(methods)
    jobs = [(tuple(widths), activation, tuple(noise_levels), tuple(methods), trial, seed, gd_options) for trial in range(trials)]
    with tqdm(total=trials, desc=f"noise study {'-'.join(map(str, widths))}", unit="trial", disable=not progress) as bar:
        return _map_trials(_random_network_trial, jobs, processes, bar)


def _expansion_widths(k: int, c: float, depth: int) -> tuple[int, ...]:
    widths = [int(k)]
    for _ in range(depth):
        widths.append(int(math.ceil(c * widths[-1] - 1e-9)))
    return tuple(widths)


def dimension_study(
    latent_dims: Sequence[int] = (5, 10, 20, 40),
    expansions: Sequence[float] = (2, 3, 5),
    depth: int = 2,
    trials: int = 50,
    methods: Sequence[str] = ("lp", "gd"),
    seed: int = 0,
    gd_options: Mapping | None = None,
    progress: bool = True,
    processes: int = 1,
) -> list[dict]:
    """Success rate and time against latent dimension ``k`` and expansion ``c`` (Lei et al. Section 5).

    Networks ``k → ⌈c k⌉ → ⌈c² k⌉ → …`` with ``depth`` ReLU layers (the output one included; depth
    2 with ``k = 20, c = 5`` is 20→100→500), noiseless ``x = G(z)``, a fresh network per trial.
    ``processes``: processes solving trials.

    Returns:
        rows with :data:`LP_COLUMNS` (``noise = 0``).
    """
    _check_methods(methods)
    jobs = [
        (_expansion_widths(k, c, depth), "relu", (0.0,), tuple(methods), trial, seed, gd_options)
        for c in expansions
        for k in latent_dims
        for trial in range(trials)
    ]
    with tqdm(total=len(jobs), desc="dimension study", unit="trial", disable=not progress) as bar:
        return _map_trials(_random_network_trial, jobs, processes, bar)


def layer_expansions(generator: StagedGenerator) -> list[float]:
    """``n_{k+1} / n_k`` for every stage (Lei et al.'s exact recovery needs more than about 2)."""
    sizes = [math.prod(s) for s in generator.layer_shapes()]
    return [b / a for a, b in zip(sizes[:-1], sizes[1:])]


def trained_generator_study(
    generator: StagedGenerator,
    trials: int = 20,
    methods: Sequence[str] = ("lp", "gd"),
    seed: int = 0,
    gd_options: Mapping | None = None,
    progress: bool = True,
) -> list[dict]:
    """The noiseless inversion study on a given (e.g. trained) generator.

    ``trials`` latents ``z ~ N(0, I)`` (seeded), ``x = G(z)`` computed in float64 on a copy of the
    generator (float32 round-off would make eq. 3 infeasible), every stage type handled through
    :func:`~deeprestore.generative.stage_matrix.stage_affine`. Layers that do not expand (or
    sigmoid/tanh outputs, conv stages) are not an error: the LP's diagnostics (underdetermined,
    fallback, inconsistent) are logged as warnings and the rows report the errors as they are.

    Returns:
        ``trials × len(methods)`` rows with :data:`LP_COLUMNS` (``noise = 0``, ``trial`` = sample).
    """
    _check_methods(methods)
    G = copy.deepcopy(generator).to("cpu", torch.float64).eval().requires_grad_(False)
    expansions = layer_expansions(G)
    # ReLU stages need ≳ 2× (about half the outputs are zero, Lei et al. Theorem 3); invertible
    # activations need only a full-column-rank A (≥ 1×)
    weak = [
        f"stage {k} ({e:.2f}×, {G.stages[k].activation})"
        for k, e in enumerate(expansions)
        if e < (2.0 if G.stages[k].activation == "relu" else 1.0)
    ]
    if weak and any(m != "gd" for m in methods):
        log.warning("stages that do not expand enough: %s — layer-wise LP recovery is not guaranteed there", ", ".join(weak))
    z = G.sample_latent(trials, torch.Generator().manual_seed(10**6 + 1000 * seed)).double()
    with torch.no_grad():
        x = G(z)
    affines = _affines(G)
    widths = _widths_string(G)
    rows: list[dict] = []
    for method in tqdm(methods, desc="trained generator study", unit="method", disable=not progress):
        z_hat, seconds, diag = invert_with(method, G, x, affines, seed=seed, gd_options=gd_options)
        if diag is not None and not diag.ok.all():
            log.warning("%s on %s: %s", method, widths, diag.summary())
        for trial, (err, sec) in enumerate(zip(_rel_errors(z_hat, z), seconds)):
            rows.append(
                dict(method=method, widths=widths, noise=0.0, trial=trial, latent_rel_error=err, seconds=sec, success=_success(err, 0.0))
            )
    return rows
